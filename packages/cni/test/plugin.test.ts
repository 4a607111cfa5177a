/**
 * The CNI commands over fakes (STYLE 27): what ADD, DEL, CHECK, GC and STATUS ask of the
 * control plane and the data plane, in which order, and what they undo when something fails
 * half way.
 */
import { status } from '@grpc/grpc-js';
import { pino } from 'pino';
import type { GetAllocationResponse, IpamAllocation, WorkloadAddRequest, WorkloadAddResponse, WorkloadDeleteRequest, WorkloadDeleteResponse, WorkloadEndpoint } from '@tabby/proto';
import { describe, expect, it } from 'vitest';
import {
  ApiCallError,
  CniCode,
  CniError,
  containerMac,
  grpcToCniError,
  guardNamespaces,
  runPlugin,
  type ContainerInterface,
  type HostSweepPlan,
  type Observation,
  type PluginOutput,
  type TabbyApi,
  type Wiring,
  type WiringSpec,
} from '../src/index.js';

const CID = 'c0ffee';
const NETNS = '/run/netns/fake-1';
const MAC = containerMac(CID, 'eth0');
const ENV = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: CID, CNI_NETNS: NETNS, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-1' };
const CONF = { cniVersion: '1.0.0', name: 'net1', type: 'tabby-cni', nodename: 'node-1' };

class FakeApi implements TabbyApi {
  calls: string[] = [];
  adds: WorkloadAddRequest[] = [];
  deletes: WorkloadDeleteRequest[] = [];
  addFailure: Error | undefined;
  deleteFailure: Error | undefined;
  workloadAdd(req: WorkloadAddRequest): Promise<WorkloadAddResponse> {
    this.calls.push('ipam.add');
    this.adds.push(req);
    if (this.addFailure) return Promise.reject(this.addFailure);
    return Promise.resolve({ endpointName: 'node--1-k8s-web--1-eth0', interfaceName: 'cali1234567890a', ipNetworks: ['198.19.0.5/32'], existing: false });
  }
  workloadDelete(req: WorkloadDeleteRequest): Promise<WorkloadDeleteResponse> {
    this.calls.push('ipam.delete');
    this.deletes.push(req);
    if (this.deleteFailure) return Promise.reject(this.deleteFailure);
    return Promise.resolve({ released: ['198.19.0.5'], found: true });
  }
  getAllocation(address: string): Promise<GetAllocationResponse> {
    return Promise.resolve({ allocated: true, address, handle: `net1.${CID}`, attributes: {}, block: '', blockNode: '', pool: '', borrowed: false });
  }
  getEndpoint(): Promise<WorkloadEndpoint | undefined> {
    return Promise.resolve(undefined);
  }
  allocations: IpamAllocation[] = [];
  listFailure: Error | undefined;
  listAllocations(node: string, handlePrefix: string): Promise<IpamAllocation[]> {
    this.calls.push(`ipam.list ${node} ${handlePrefix}`);
    return this.listFailure ? Promise.reject(this.listFailure) : Promise.resolve(this.allocations);
  }
  releases: string[] = [];
  releaseByHandle(handle: string): Promise<string[]> {
    this.calls.push('ipam.releaseByHandle');
    this.releases.push(handle);
    return Promise.resolve(this.allocations.filter((a) => a.handle === handle).map((a) => a.address));
  }
  nodeFound = true;
  nodeFailure: Error | undefined;
  nodeExists(name: string): Promise<boolean> {
    this.calls.push(`store.node ${name}`);
    return this.nodeFailure ? Promise.reject(this.nodeFailure) : Promise.resolve(this.nodeFound);
  }
  close(): void {
    this.calls.push('close');
  }
}

class FakeWiring implements Wiring {
  calls: string[] = [];
  netns = true;
  container: ContainerInterface = { exists: false };
  setUpFailure: Error | undefined;
  specs: WiringSpec[] = [];
  netnsExists(): boolean {
    return this.netns;
  }
  inspectContainer(): Promise<ContainerInterface> {
    this.calls.push('inspect');
    return Promise.resolve(this.container);
  }
  setUp(spec: WiringSpec, replace: boolean): Promise<void> {
    this.calls.push(replace ? 'setUp (replacing eth0)' : 'setUp');
    this.specs.push(spec);
    return this.setUpFailure ? Promise.reject(this.setUpFailure) : Promise.resolve();
  }
  tearDown(netns: string, ifname: string, mac: string, host?: string): Promise<{ removed: boolean }> {
    this.calls.push(`tearDown ${netns || '-'} ${ifname} ${mac === MAC ? 'ourMac' : mac}${host ? ` ${host}` : ''}`);
    return Promise.resolve({ removed: true });
  }
  observe(): Promise<Observation> {
    return Promise.resolve({ container: { netnsExists: false, routes: [] }, host: { routes: [], sysctls: {}, proxyNeighbours: [] } });
  }
  sweepFailure: Error | undefined;
  removeStaleHostInterfaces(addresses: readonly string[], table: number, protocol: number): Promise<HostSweepPlan> {
    this.calls.push(`sweep ${addresses.join(',')} table ${table} proto ${protocol}`);
    return this.sweepFailure ? Promise.reject(this.sweepFailure) : Promise.resolve({ remove: [{ name: 'caliold', addresses }], kept: [] });
  }
}

const silent = pino({ level: 'silent' });

async function run(env: Record<string, string | undefined>, stdin: unknown, api = new FakeApi(), wiring = new FakeWiring()): Promise<PluginOutput & { json: Record<string, unknown> | undefined; api: FakeApi; wiring: FakeWiring }> {
  const out = await runPlugin({
    env: { ...env, VITEST: undefined, TABBY_NETNS_GUARD: undefined },
    readStdin: () => Promise.resolve(typeof stdin === 'string' ? stdin : JSON.stringify(stdin)),
    hostname: () => 'host-a',
    logger: () => silent,
    api: () => api,
    wiring: () => wiring,
  });
  return { ...out, json: out.stdout === '' ? undefined : (JSON.parse(out.stdout) as Record<string, unknown>), api, wiring };
}

describe('VERSION', () => {
  it('prints the supported versions and needs no stdin', async () => {
    const out = await runPlugin({ env: { CNI_COMMAND: 'VERSION' }, readStdin: () => Promise.reject(new Error('not read')), hostname: () => 'h', logger: () => silent, api: () => new FakeApi(), wiring: () => new FakeWiring() });
    expect(out).toEqual({ stdout: '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n', exitCode: 0 });
  });
});

describe('ADD', () => {
  it('asks IPAM with Calico\'s handle and identity, then wires, and prints the result', async () => {
    const r = await run(ENV, CONF);
    expect(r.exitCode).toBe(0);
    expect(r.wiring.calls).toEqual(['inspect', 'setUp']);
    expect(r.api.calls).toEqual(['ipam.add', 'close']);
    expect(r.api.adds[0]).toEqual({
      namespace: 'default',
      name: 'web-1',
      node: 'node-1',
      labels: {},
      numIpv4: 1,
      numIpv6: 0,
      ipv4Pools: [],
      ipv6Pools: [],
      handle: `net1.${CID}`,
      containerId: CID,
      endpoint: 'eth0',
      orchestrator: 'k8s',
      mac: MAC,
      ipAddrs: [],
      namespaceLabels: {},
    });
    // The host interface is the one IPAM wrote into the endpoint.
    expect(r.wiring.specs[0]).toEqual({ netns: NETNS, ifname: 'eth0', hostInterface: 'cali1234567890a', containerMac: MAC, addresses: ['198.19.0.5/32'], mtu: undefined, routeTable: 254, routeProtocol: 84 });
    expect(r.json).toMatchObject({ cniVersion: '1.0.0', interfaces: [{ name: 'cali1234567890a' }, { name: 'eth0', mac: MAC, sandbox: NETNS }], ips: [{ address: '198.19.0.5/32', interface: 1 }] });
  });

  it('asks for the pools of the annotation and both families when assign_ipv6 is "true"', async () => {
    const r = await run(ENV, { ...CONF, ipam: { assign_ipv6: 'true', ipv4_pools: ['a'] }, runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { 'cni.projectcalico.org/ipv4pools': '["b"]' } } });
    expect(r.api.adds[0]).toMatchObject({ numIpv4: 1, numIpv6: 1, ipv4Pools: ['b'] });
  });

  it('passes fixed addresses (ipAddrs annotation or CNI_ARGS IP=) and the namespace labels; refuses both kinds of fixed address at once', async () => {
    const annotated = await run(ENV, { ...CONF, args: { cni: { 'cni.projectcalico.org/ipAddrs': '["198.19.0.9"]', namespace_labels: { team: 'blue' } } } });
    expect(annotated.api.adds[0]).toMatchObject({ ipAddrs: ['198.19.0.9'], namespaceLabels: { team: 'blue' } });
    const byArg = await run({ ...ENV, CNI_ARGS: `${ENV.CNI_ARGS};IP=198.19.0.10` }, CONF);
    expect(byArg.api.adds[0]).toMatchObject({ ipAddrs: ['198.19.0.10'] });
    const both = await run({ ...ENV, CNI_ARGS: `${ENV.CNI_ARGS};IP=198.19.0.10` }, { ...CONF, args: { cni: { 'cni.projectcalico.org/ipAddrs': '["198.19.0.9"]' } } });
    expect(both.exitCode).toBe(1);
    expect(both.json).toMatchObject({ code: 4, msg: 'CNI_ARGS IP=198.19.0.10 and the cni.projectcalico.org/ipAddrs annotation cannot both be given' });
    expect(both.api.adds).toEqual([]);
  });

  it('a missing namespace: code 3, and IPAM is never asked', async () => {
    const w = new FakeWiring();
    w.netns = false;
    const r = await run(ENV, CONF, undefined, w);
    expect(r.exitCode).toBe(1);
    expect(r.json).toEqual({ cniVersion: '1.0.0', code: 3, msg: `the container's network namespace ${NETNS} does not exist` });
    expect(r.api.calls).toEqual(['close']);
  });

  it('an interface of that name another plugin made: code 106, and IPAM is never asked', async () => {
    const w = new FakeWiring();
    w.container = { exists: true, mac: '02:00:00:00:00:99' };
    const r = await run(ENV, CONF, undefined, w);
    expect(r.json).toMatchObject({ code: 106, msg: expect.stringMatching(/interface eth0 already exists in .* and is not tabby-cni's/) as unknown });
    expect(r.api.calls).toEqual(['close']);
  });

  it('ours from an earlier ADD is fine (ADD twice)', async () => {
    const w = new FakeWiring();
    w.container = { exists: true, mac: MAC };
    expect((await run(ENV, CONF, undefined, w)).exitCode).toBe(0);
    expect(w.calls).toEqual(['inspect', 'setUp (replacing eth0)']);
  });

  it('wiring fails half way: the interfaces are removed and IPAM gives everything back', async () => {
    const w = new FakeWiring();
    w.setUpFailure = new CniError(CniCode.DataplaneFailure, 'cannot configure eth0: RTNETLINK answers: Operation not permitted');
    const r = await run(ENV, CONF, undefined, w);
    expect(r.json).toEqual({ cniVersion: '1.0.0', code: 105, msg: 'cannot configure eth0: RTNETLINK answers: Operation not permitted' });
    expect(w.calls).toEqual(['inspect', 'setUp', `tearDown ${NETNS} eth0 ourMac cali1234567890a`]);
    expect(r.api.calls).toEqual(['ipam.add', 'ipam.delete', 'close']);
    expect(r.api.deletes[0]).toEqual({ namespace: 'default', name: 'web-1', handle: `net1.${CID}`, containerId: CID, endpoint: 'eth0' });
  });

  it('the undo failing too is reported in details', async () => {
    const w = new FakeWiring();
    w.setUpFailure = new Error('spawn ip ENOENT');
    const api = new FakeApi();
    api.deleteFailure = new ApiCallError(CniCode.TryAgainLater, 'tabby-ipam is unavailable', false);
    const r = await run(ENV, CONF, api, w);
    expect(r.json).toMatchObject({ code: 105, msg: 'spawn ip ENOENT', details: 'releasing the addresses failed: tabby-ipam is unavailable' });
  });

  it.each([
    [status.UNAVAILABLE, 'connect ECONNREFUSED 127.0.0.1:50052', 11],
    [status.RESOURCE_EXHAUSTED, 'Assigned 0 out of 1 requested IPv4 addresses; No IPs available in pools: [198.19.9.0/30]', 101],
    [status.FAILED_PRECONDITION, 'the given pool (nope) does not exist, or is not enabled', 102],
    [status.NOT_FOUND, 'node "node-1" does not exist: create its Node resource first', 103],
    [status.INVALID_ARGUMENT, 'bad', 104],
  ])('IPAM answering gRPC %s: code %s, nothing wired, nothing to undo', async (code, details, cniCode) => {
    const api = new FakeApi();
    api.addFailure = grpcToCniError(Object.assign(new Error(details), { code, details, metadata: undefined }), { service: 'tabby-ipam', address: '127.0.0.1:50052' }, 'cannot assign addresses');
    const r = await run(ENV, CONF, api);
    expect(r.json).toMatchObject({ code: cniCode, msg: expect.stringContaining(details) as unknown });
    expect(r.wiring.calls).toEqual(['inspect']);
    expect(api.calls).toEqual(['ipam.add', 'close']);
  });

  it('IPAM not answering in time: code 11, and the workload is released in case it was added', async () => {
    const api = new FakeApi();
    api.addFailure = grpcToCniError(Object.assign(new Error('Deadline exceeded'), { code: status.DEADLINE_EXCEEDED, details: 'Deadline exceeded', metadata: undefined }), { service: 'tabby-ipam', address: '127.0.0.1:50052' }, 'cannot assign addresses');
    const r = await run(ENV, CONF, api);
    expect(r.json).toMatchObject({ code: 11, msg: 'cannot assign addresses: tabby-ipam at 127.0.0.1:50052 did not answer in time' });
    expect(api.calls).toEqual(['ipam.add', 'ipam.delete', 'close']);
  });

  it('config and environment errors come before anything is touched', async () => {
    const r = await run({ ...ENV, CNI_ARGS: 'FOO=1' }, CONF);
    expect(r.json).toMatchObject({ code: 4 });
    expect(r.api.calls).toEqual([]);
    expect(r.wiring.calls).toEqual([]);
    expect((await run(ENV, 'not json')).json).toMatchObject({ cniVersion: '1.0.0', code: 6 });
    expect((await run(ENV, { ...CONF, cniVersion: '0.4.0', type: 'x' })).json).toMatchObject({ cniVersion: '0.4.0', code: 7 });
  });
});

describe('DEL', () => {
  it('removes the container interface (only tabby-cni\'s) and releases the handle; no output', async () => {
    const r = await run({ ...ENV, CNI_COMMAND: 'DEL' }, CONF);
    expect(r).toMatchObject({ stdout: '', exitCode: 0 });
    expect(r.wiring.calls).toEqual([`tearDown ${NETNS} eth0 ourMac`]);
    expect(r.api.deletes).toEqual([{ namespace: 'default', name: 'web-1', handle: `net1.${CID}`, containerId: CID, endpoint: 'eth0' }]);
  });
  it('works without a namespace (it is gone)', async () => {
    const r = await run({ ...ENV, CNI_COMMAND: 'DEL', CNI_NETNS: '' }, CONF);
    expect(r.exitCode).toBe(0);
    expect(r.wiring.calls).toEqual(['tearDown - eth0 ourMac']);
  });
  it('IPAM unreachable: code 11, so the runtime calls DEL again', async () => {
    const api = new FakeApi();
    api.deleteFailure = new ApiCallError(CniCode.TryAgainLater, 'cannot release the workload: tabby-ipam at 127.0.0.1:50052 is unavailable: connect ECONNREFUSED', false);
    const r = await run({ ...ENV, CNI_COMMAND: 'DEL' }, CONF, api);
    expect(r.json).toMatchObject({ code: 11 });
  });
});

describe('CHECK', () => {
  it('is refused below 0.4.0', async () => {
    const r = await run({ ...ENV, CNI_COMMAND: 'CHECK' }, { ...CONF, cniVersion: '0.3.1', prevResult: { ips: [] } });
    expect(r.json).toMatchObject({ cniVersion: '0.3.1', code: 1, msg: 'config version 0.3.1 does not allow CHECK (0.4.0 and later do)' });
  });
  it('needs prevResult', async () => {
    expect((await run({ ...ENV, CNI_COMMAND: 'CHECK' }, CONF)).json).toMatchObject({ code: 7, msg: expect.stringMatching(/prevResult must be given/) as unknown });
  });
  it('reports what is missing as code 107, every problem in details', async () => {
    const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'cali1234567890a', mac: 'ee:ee:ee:ee:ee:ee' }, { name: 'eth0', mac: MAC, sandbox: NETNS }], ips: [{ address: '198.19.0.5/32', interface: 1 }] };
    const r = await run({ ...ENV, CNI_COMMAND: 'CHECK' }, { ...CONF, prevResult });
    expect(r.json).toMatchObject({ code: 107, msg: expect.stringMatching(/^CHECK failed: the container's network namespace \/run\/netns\/fake-1 does not exist; host interface cali1234567890a is missing; WorkloadEndpoint default\/node--1-k8s-web--1-eth0 is missing in tabby-store$/) as unknown });
  });
});

describe('the namespace guard', () => {
  it('under a test, refuses to run in this machine\'s own namespace (where vitest runs)', () => {
    let err: unknown;
    try {
      guardNamespaces({ VITEST: 'true' }, '');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CniError);
    expect(err).toMatchObject({ cniCode: CniCode.NamespaceGuard, message: expect.stringMatching(/refusing to program routes in this machine's own network namespace/) as unknown });
  });
  it('outside tests it lets everything through', () => {
    expect(() => guardNamespaces({}, '/proc/1/ns/net')).not.toThrow();
  });
});

const unavailable = (service: 'tabby-ipam' | 'tabby-store', address: string, what: string): ApiCallError =>
  grpcToCniError(Object.assign(new Error('No connection established'), { code: status.UNAVAILABLE, details: 'No connection established. Last error: connect ECONNREFUSED', metadata: undefined }), { service, address }, what);

/** An allocation as tabby-ipam's ListAllocations lists one that WorkloadAdd made for `cid` on network `net`. */
function allocation(net: string, cid: string, address: string, over: Partial<IpamAllocation> = {}, attributes: Record<string, string> = { namespace: 'default', pod: `web-${cid}`, containerID: cid, endpoint: 'eth0' }): IpamAllocation {
  return { address, handle: `${net}.${cid}`, node: 'node-1', attributes: { ...attributes, node: over.node ?? 'node-1' }, block: '198.19.0.0/26', pending: false, ...over };
}

describe('GC (1.1.0)', () => {
  const GC_ENV = { CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' };
  const GC_CONF = { ...CONF, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'c-keep', ifname: 'eth0' }] };

  it("releases what this network holds on this node for containers the runtime no longer lists, the host side first; nothing of another network, node or tool", async () => {
    const api = new FakeApi();
    api.allocations = [
      allocation('net1', 'c-gone', '198.19.0.7'),
      allocation('net1', 'c-gone', '2001:db8::7'),
      allocation('net1', 'c-keep', '198.19.0.8'),
      allocation('net1', 'c-bare', '198.19.0.9', {}, { containerID: 'c-bare' }), // no workload recorded
      allocation('net1', 'x.c3', '198.19.0.10', { handle: 'net1.x.c3' }, { containerID: 'c3', namespace: 'default', pod: 'p3' }), // network net1.x's
      allocation('net1', 'c-far', '198.19.0.11', { node: 'node-2' }), // another node's (IPAM never lists it: defence in depth)
      allocation('net1', 'c-busy', '198.19.0.12', { pending: true }), // its ADD or DEL is under way
      allocation('net1', 'by-hand', '198.19.0.13', {}, { namespace: 'default', pod: 'by-hand' }), // no containerID: not a CNI ADD's
    ];
    const r = await run(GC_ENV, GC_CONF, api);
    expect(r).toMatchObject({ stdout: '', exitCode: 0 });
    expect(api.calls).toEqual(['ipam.list node-1 net1.', 'ipam.delete', 'ipam.releaseByHandle', 'close']);
    expect(r.wiring.calls).toEqual(['sweep 198.19.0.7/32,2001:db8::7/128,198.19.0.9/32 table 254 proto 84']);
    // As DEL does: the endpoint only if it is still this container's, on the interface ADD was given.
    expect(api.deletes).toEqual([{ namespace: 'default', name: 'web-c-gone', handle: 'net1.c-gone', containerId: 'c-gone', endpoint: 'eth0' }]);
    expect(api.releases).toEqual(['net1.c-bare']);
  });

  it('an empty list releases every attachment of the network on the node; the older key cni.dev/attachments works too', async () => {
    const api = new FakeApi();
    api.allocations = [allocation('net1', 'c1', '198.19.0.7'), allocation('net1', 'c2', '198.19.0.8')];
    const { [`cni.dev/valid-attachments`]: _dropped, ...rest } = GC_CONF;
    const r = await run(GC_ENV, { ...rest, 'cni.dev/attachments': [] }, api);
    expect(r.exitCode).toBe(0);
    expect(api.deletes.map((d) => d.handle)).toEqual(['net1.c1', 'net1.c2']);
  });

  it('nothing stale: nothing touched', async () => {
    const api = new FakeApi();
    api.allocations = [allocation('net1', 'c-keep', '198.19.0.8')];
    const r = await run(GC_ENV, GC_CONF, api);
    expect(r.exitCode).toBe(0);
    expect(api.calls).toEqual(['ipam.list node-1 net1.', 'close']);
    expect(r.wiring.calls).toEqual([]);
  });

  it('without the list of valid attachments it refuses (code 7) and asks IPAM nothing', async () => {
    const { [`cni.dev/valid-attachments`]: _dropped, ...rest } = GC_CONF;
    const r = await run(GC_ENV, rest);
    expect(r.json).toMatchObject({ cniVersion: '1.1.0', code: 7, msg: expect.stringMatching(/^GC needs cni\.dev\/valid-attachments/) as unknown });
    expect(r.api.calls).toEqual(['close']);
  });

  it.each([
    [{ 'cni.dev/valid-attachments': 'c-keep' }, /cni\.dev\/valid-attachments must be a list/],
    [{ 'cni.dev/valid-attachments': [{ ifname: 'eth0' }] }, /cni\.dev\/valid-attachments\[0\]\.containerID must be a non-empty string/],
  ])('a list it cannot read is refused (code 7), never taken for a short one: %j', async (over, msg) => {
    const r = await run(GC_ENV, { ...GC_CONF, ...over });
    expect(r.json).toMatchObject({ code: 7, msg: expect.stringMatching(msg) as unknown });
    expect(r.api.calls).toEqual([]);
  });

  it('is refused below 1.1.0 (code 1), as libcni\'s skel does', async () => {
    const r = await run(GC_ENV, { ...GC_CONF, cniVersion: '1.0.0' });
    expect(r.json).toMatchObject({ cniVersion: '1.0.0', code: 1, msg: 'config version 1.0.0 does not allow GC (1.1.0 and later do)' });
    expect(r.api.calls).toEqual([]);
  });

  it('IPAM unreachable: code 11 (the runtime tries again), nothing removed', async () => {
    const api = new FakeApi();
    api.listFailure = unavailable('tabby-ipam', '127.0.0.1:50052', 'cannot list the allocations of node node-1');
    const r = await run(GC_ENV, GC_CONF, api);
    expect(r.json).toMatchObject({ code: 11, msg: expect.stringMatching(/^cannot list the allocations of node node-1: tabby-ipam at 127\.0\.0\.1:50052 is unavailable/) as unknown });
    expect(r.wiring.calls).toEqual([]);
  });

  it('goes on after a failure and reports them all; 11 wins so that the runtime retries', async () => {
    const api = new FakeApi();
    api.allocations = [allocation('net1', 'c1', '198.19.0.7'), allocation('net1', 'c2', '198.19.0.8')];
    api.deleteFailure = unavailable('tabby-ipam', '127.0.0.1:50052', 'cannot release the workload');
    const w = new FakeWiring();
    w.sweepFailure = new CniError(CniCode.DataplaneFailure, 'cannot list the node\'s veth interfaces: Operation not permitted');
    const r = await run(GC_ENV, GC_CONF, api, w);
    expect(api.calls).toEqual(['ipam.list node-1 net1.', 'ipam.delete', 'ipam.delete', 'close']);
    expect(r.json).toMatchObject({ code: 11, msg: expect.stringMatching(/^GC did not finish: cannot release the workload: .* \(and 2 more failures, in details\)$/) as unknown });
    expect((r.json?.details as string).split('\n')).toHaveLength(3);
  });

  it('needs no CNI_CONTAINERID, CNI_NETNS or CNI_IFNAME', async () => {
    expect((await run({ CNI_COMMAND: 'GC' }, GC_CONF)).exitCode).toBe(0);
  });
});

describe('STATUS (1.1.0)', () => {
  const ST_ENV = { CNI_COMMAND: 'STATUS', CNI_PATH: '/opt/cni/bin' };
  const ST_CONF = { ...CONF, cniVersion: '1.1.0' };

  it('ready when tabby-ipam and tabby-store answer and the Node exists: exit 0, no output', async () => {
    const r = await run(ST_ENV, ST_CONF);
    expect(r).toMatchObject({ stdout: '', exitCode: 0 });
    expect([...r.api.calls].sort()).toEqual(['close', 'ipam.list node-1 net1.', 'store.node node-1']);
    expect(r.wiring.calls).toEqual([]);
  });

  it('tabby-ipam unreachable: 50, naming it and its address', async () => {
    const api = new FakeApi();
    api.listFailure = unavailable('tabby-ipam', '127.0.0.1:50052', 'cannot list the allocations of node node-1');
    const r = await run(ST_ENV, ST_CONF, api);
    expect(r.json).toMatchObject({ cniVersion: '1.1.0', code: 50, msg: expect.stringMatching(/^tabby-cni is not available: cannot list the allocations of node node-1: tabby-ipam at 127\.0\.0\.1:50052 is unavailable/) as unknown, details: expect.stringMatching(/code 11/) as unknown });
  });

  it('both unreachable: 50, naming both', async () => {
    const api = new FakeApi();
    api.listFailure = unavailable('tabby-ipam', '127.0.0.1:50052', 'cannot list the allocations of node node-1');
    api.nodeFailure = unavailable('tabby-store', '127.0.0.1:50051', 'cannot read Node node-1');
    const r = await run(ST_ENV, ST_CONF, api);
    expect(r.json).toMatchObject({ code: 50, msg: expect.stringMatching(/tabby-ipam at 127\.0\.0\.1:50052 .*; cannot read Node node-1: tabby-store at 127\.0\.0\.1:50051 is unavailable/) as unknown });
  });

  it('no Node resource and no container of the network on the node: 50', async () => {
    const api = new FakeApi();
    api.nodeFound = false;
    api.allocations = [allocation('net1', 'by-hand', '198.19.0.13', {}, { namespace: 'default', pod: 'by-hand' })];
    const r = await run(ST_ENV, ST_CONF, api);
    expect(r.json).toMatchObject({ code: 50, msg: 'tabby-cni is not available: node node-1 has no Node resource in tabby-store at 127.0.0.1:50051: ADD would fail (code 103)' });
  });

  it('no Node resource while containers of the network are on the node: 51 (they may have limited connectivity)', async () => {
    const api = new FakeApi();
    api.nodeFound = false;
    api.allocations = [allocation('net1', 'c1', '198.19.0.7'), allocation('net1', 'c1', '2001:db8::7'), allocation('net1', 'c2', '198.19.0.8')];
    const r = await run(ST_ENV, ST_CONF, api);
    expect(r.json).toMatchObject({ code: 51, msg: expect.stringMatching(/no Node resource .*, and the 2 containers of network net1 on it may have limited connectivity/) as unknown });
  });

  it('is refused below 1.1.0 (code 1); needs nothing but CNI_COMMAND and the config', async () => {
    expect((await run(ST_ENV, CONF)).json).toMatchObject({ code: 1, msg: 'config version 1.0.0 does not allow STATUS (1.1.0 and later do)' });
    expect((await run({ CNI_COMMAND: 'STATUS' }, ST_CONF)).exitCode).toBe(0);
  });
});
