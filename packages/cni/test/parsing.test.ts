/**
 * The pure parts of tabby-cni: CNI_ARGS, the CNI_* environment, the network config, the
 * workload identity, results and error JSON. Tables of cases; no processes, no root.
 */
import { describe, expect, it } from 'vitest';
import {
  CniCode,
  CniError,
  addResult,
  containerMac,
  errorJson,
  parseCniArgs,
  parseLinkKinds,
  parseEnvironment,
  parseNetworkConfig,
  parsePrevResult,
  planGc,
  planHostSweep,
  workloadIdentity,
  type NetworkConfig,
} from '../src/index.js';

/** The CNI code a function throws, with its message. */
function failure(fn: () => unknown): { code: number; msg: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof CniError) return { code: err.cniCode, msg: err.message };
    throw err;
  }
  throw new Error('expected a CniError');
}

describe('CNI_ARGS', () => {
  it('reads the Kubernetes keys', () => {
    expect(parseCniArgs('IgnoreUnknown=1;K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=dns-1;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1')).toEqual({
      ignoreUnknown: true,
      podNamespace: 'kube-system',
      podName: 'dns-1',
      infraContainerId: 'abc',
      podUid: 'u-1',
      ignored: [],
    });
  });
  it('is empty when unset or empty, and skips empty pairs', () => {
    expect(parseCniArgs(undefined)).toEqual({ ignoreUnknown: false, ignored: [] });
    expect(parseCniArgs('')).toEqual({ ignoreUnknown: false, ignored: [] });
    expect(parseCniArgs('K8S_POD_NAME=a;;')).toMatchObject({ podName: 'a' });
  });
  it('takes IP= (a fixed address, as Calico\'s IPAM plugin does)', () => {
    expect(parseCniArgs('K8S_POD_NAME=a;IP=10.0.0.1')).toMatchObject({ podName: 'a', ip: '10.0.0.1' });
    expect(parseCniArgs('IP=fd00:0::7')).toMatchObject({ ip: 'fd00::7' });
  });
  it.each([
    ['FOO=bar', /unknown key "FOO"/],
    ['K8S_POD_NAME=a;IP=10.0.0.300', /CNI_ARGS IP=10.0.0.300: not an IP address/],
    ['K8S_POD_NAME', /invalid pair "K8S_POD_NAME"/],
    ['A=b=c', /invalid pair "A=b=c"/],
    ['=x', /invalid pair "=x"/],
    ['IgnoreUnknown=yes', /IgnoreUnknown=yes: expected 1, true, 0 or false/],
  ])('refuses %s with code 4', (text, message) => {
    const f = failure(() => parseCniArgs(text));
    expect(f.code).toBe(CniCode.InvalidEnvironment);
    expect(f.msg).toMatch(message);
  });
  it.each(['1', 'true', 'TRUE', 'True'])('IgnoreUnknown=%s lets unknown keys pass (anywhere in the list)', (v) => {
    expect(parseCniArgs(`FOO=bar;IgnoreUnknown=${v};K8S_POD_NAME=p`)).toMatchObject({ ignoreUnknown: true, podName: 'p', ignored: ['FOO'] });
  });
  it('IgnoreUnknown=0 or false keeps them an error', () => {
    expect(failure(() => parseCniArgs('IgnoreUnknown=false;FOO=1')).code).toBe(CniCode.InvalidEnvironment);
    expect(failure(() => parseCniArgs('IgnoreUnknown=0;FOO=1')).code).toBe(CniCode.InvalidEnvironment);
  });
  it('takes podman\'s arguments (K8S_POD_NAME without a namespace)', () => {
    expect(parseCniArgs('IgnoreUnknown=1;K8S_POD_NAME=web')).toEqual({ ignoreUnknown: true, podName: 'web', ignored: [] });
  });
});

const ENV = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c0ffee', CNI_NETNS: '/var/run/netns/cni-1', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin:/usr/lib/cni' };

describe('the CNI environment', () => {
  it('reads ADD', () => {
    expect(parseEnvironment(ENV)).toEqual({ command: 'ADD', containerId: 'c0ffee', netns: '/var/run/netns/cni-1', ifname: 'eth0', args: { ignoreUnknown: false, ignored: [] }, path: ['/opt/cni/bin', '/usr/lib/cni'] });
  });
  it('lets DEL go without CNI_NETNS (the namespace may be gone)', () => {
    expect(parseEnvironment({ ...ENV, CNI_COMMAND: 'DEL', CNI_NETNS: '' }).netns).toBe('');
    expect(parseEnvironment({ ...ENV, CNI_COMMAND: 'DEL', CNI_NETNS: undefined }).netns).toBe('');
  });
  it('needs nothing but CNI_COMMAND for VERSION', () => {
    expect(parseEnvironment({ CNI_COMMAND: 'VERSION' }).command).toBe('VERSION');
  });
  it.each(['GC', 'STATUS'])('needs nothing but CNI_COMMAND (and reads CNI_PATH) for %s, which are about the network, not a container', (command) => {
    expect(parseEnvironment({ CNI_COMMAND: command, CNI_PATH: '/opt/cni/bin' })).toEqual({ command, containerId: '', netns: '', ifname: '', args: { ignoreUnknown: false, ignored: [] }, path: ['/opt/cni/bin'] });
    // Whatever else a runtime sets is not looked at.
    expect(parseEnvironment({ ...ENV, CNI_COMMAND: command, CNI_ARGS: 'FOO=1' }).containerId).toBe('');
  });
  it.each([
    [{ CNI_COMMAND: undefined }, /CNI_COMMAND must be set/],
    [{ CNI_COMMAND: 'add' }, /CNI_COMMAND "add" is not supported/],
    [{ CNI_COMMAND: 'INIT' }, /CNI_COMMAND "INIT" is not supported: one of ADD, DEL, CHECK, VERSION, GC, STATUS/],
    [{ CNI_CONTAINERID: '' }, /CNI_CONTAINERID must be set for ADD/],
    [{ CNI_CONTAINERID: '-abc' }, /CNI_CONTAINERID "-abc" is not a container ID/],
    [{ CNI_CONTAINERID: 'a b' }, /is not a container ID/],
    [{ CNI_IFNAME: undefined }, /CNI_IFNAME must be set for ADD/],
    [{ CNI_IFNAME: 'this-is-sixteen!' }, /longer than 15 bytes/],
    [{ CNI_IFNAME: 'eth/0' }, /contains "\/"/],
    [{ CNI_IFNAME: '..' }, /"\." or "\.\."/],
    [{ CNI_NETNS: undefined }, /CNI_NETNS must be set for ADD/],
    [{ CNI_COMMAND: 'CHECK', CNI_NETNS: '' }, /CNI_NETNS must be set for CHECK/],
    [{ CNI_NETNS: 'relative/path' }, /must be an absolute path/],
    [{ CNI_NETNS: '/run/netns/with space' }, /must be an absolute path/],
    [{ CNI_ARGS: 'NOPE=1' }, /unknown key "NOPE"/],
  ])('refuses %j with code 4', (over, message) => {
    const f = failure(() => parseEnvironment({ ...ENV, ...over }));
    expect(f.code).toBe(CniCode.InvalidEnvironment);
    expect(f.msg).toMatch(message);
  });
});

const CONF = { cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'tabby-cni' };
const parse = (extra: Record<string, unknown>): NetworkConfig => parseNetworkConfig(JSON.stringify({ ...CONF, ...extra }));

describe('the network config', () => {
  it('fills Calico\'s and Tabby\'s defaults', () => {
    expect(parse({})).toEqual({
      cniVersion: '1.0.0',
      name: 'k8s-pod-network',
      nodename: undefined,
      mtu: undefined,
      ipam: { ipv4Pools: [], ipv6Pools: [], assignIpv4: true, assignIpv6: false, ipv4PoolSource: 'none', ipv6PoolSource: 'none', ipAddrs: [], namespaceLabels: {} },
      tabby: { store: '127.0.0.1:50051', ipam: '127.0.0.1:50052', tls: {}, timeoutMs: 15_000, routeTable: 254, routeProtocol: 84 },
      logLevel: 'warn',
      logFilePath: undefined,
      prevResult: undefined,
      dns: undefined,
      validAttachments: undefined,
    });
  });
  it('takes cniVersion 1.1.0 and, for GC, the attachments still valid (cni.dev/valid-attachments, or the older cni.dev/attachments)', () => {
    const attachments = [
      { containerID: 'c1', ifname: 'eth0' },
      { containerID: 'c2', ifname: 'net1' },
    ];
    const expected = [
      { containerId: 'c1', ifname: 'eth0' },
      { containerId: 'c2', ifname: 'net1' },
    ];
    expect(parse({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': attachments })).toMatchObject({ cniVersion: '1.1.0', validAttachments: expected });
    expect(parse({ cniVersion: '1.1.0', 'cni.dev/attachments': attachments }).validAttachments).toEqual(expected);
    // libcni sets both keys; the spec's wins.
    expect(parse({ 'cni.dev/valid-attachments': [], 'cni.dev/attachments': attachments }).validAttachments).toEqual([]);
    expect(parse({ 'cni.dev/valid-attachments': [{ containerID: 'c1' }] }).validAttachments).toEqual([{ containerId: 'c1', ifname: '' }]);
  });
  it('reads every key', () => {
    const c = parse({
      nodename: 'node-1',
      mtu: 1440,
      log_level: 'warning',
      log_file_path: '/var/log/tabby/cni.log',
      ipam: { type: 'tabby-ipam', ipv4_pools: ['pool-a', '10.244.0.0/16'], ipv6_pools: ['fd00:10::/64'], assign_ipv4: 'true', assign_ipv6: true },
      tabby: { store: '10.0.0.1:50051', ipam: '[fd00::1]:50052', tls: { ca: '/etc/tabby/ca.pem', cert: '/etc/tabby/cni.pem', key: '/etc/tabby/cni-key.pem' }, timeout_seconds: 2.5, route_table: 100, route_protocol: 200 },
      dns: { nameservers: ['10.96.0.10'] },
      prevResult: { cniVersion: '1.0.0', ips: [] },
      kubernetes: { kubeconfig: '/etc/cni/net.d/calico-kubeconfig' },
    });
    expect(c).toMatchObject({
      nodename: 'node-1',
      mtu: 1440,
      logLevel: 'warn',
      logFilePath: '/var/log/tabby/cni.log',
      ipam: { ipv4Pools: ['pool-a', '10.244.0.0/16'], ipv6Pools: ['fd00:10::/64'], assignIpv4: true, assignIpv6: true, ipv4PoolSource: 'config' },
      tabby: { store: '10.0.0.1:50051', ipam: '[fd00::1]:50052', tls: { ca: '/etc/tabby/ca.pem', cert: '/etc/tabby/cni.pem', key: '/etc/tabby/cni-key.pem' }, timeoutMs: 2500, routeTable: 100, routeProtocol: 200 },
      dns: { nameservers: ['10.96.0.10'] },
      prevResult: { cniVersion: '1.0.0', ips: [] },
    });
  });
  it('takes the pool annotation from the pod annotations the runtime passes, over ipam.ipv4_pools', () => {
    const c = parse({
      ipam: { ipv4_pools: ['default-pool'] },
      runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { 'cni.projectcalico.org/ipv4pools': '["new-pool"]', 'other/annotation': 'x' } },
    });
    expect(c.ipam).toMatchObject({ ipv4Pools: ['new-pool'], ipv4PoolSource: 'annotation', ipv6PoolSource: 'none' });
  });
  it('takes it from args.cni too, as a JSON string or a list', () => {
    expect(parse({ args: { cni: { 'cni.projectcalico.org/ipv4pools': ['p1', 'p2'] } } }).ipam.ipv4Pools).toEqual(['p1', 'p2']);
    expect(parse({ args: { cni: { 'cni.projectcalico.org/ipv6pools': '["fd00::/64"]' } }, ipam: { assign_ipv6: 'true' } }).ipam).toMatchObject({ ipv6Pools: ['fd00::/64'], ipv6PoolSource: 'annotation' });
  });
  it('takes fixed addresses (the ipAddrs annotation) and the namespace labels from the pod annotations and args.cni', () => {
    expect(parse({ runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { 'cni.projectcalico.org/ipAddrs': '["192.168.10.5", "fd00::0:5"]' } } }).ipam.ipAddrs).toEqual(['192.168.10.5', 'fd00::5']);
    const c = parse({ args: { cni: { 'cni.projectcalico.org/ipAddrs': ['10.0.0.9'], namespace_labels: '{"team":"blue"}' } } });
    expect(c.ipam).toMatchObject({ ipAddrs: ['10.0.0.9'], namespaceLabels: { team: 'blue' } });
    expect(parse({ args: { cni: { namespace_labels: { env: 'prod' } } } }).ipam).toMatchObject({ ipAddrs: [], namespaceLabels: { env: 'prod' } });
    expect(parse({}).ipam).toMatchObject({ ipAddrs: [], namespaceLabels: {} });
  });
  it.each([
    [{ args: { cni: { 'cni.projectcalico.org/ipAddrs': '10.0.0.1' } } }, /must be a JSON list of IP addresses/],
    [{ args: { cni: { 'cni.projectcalico.org/ipAddrs': '["10.0.0.1","10.0.0.2"]' } } }, /cannot have more than one IPv4 address/],
    [{ args: { cni: { 'cni.projectcalico.org/ipAddrs': '["web-1"]' } } }, /"web-1" is not an IP address/],
    [{ args: { cni: { namespace_labels: { team: 7 } } } }, /args.cni.namespace_labels must be an object of label values/],
  ])('refuses fixed addresses or namespace labels %j', (extra, message) => {
    const f = failure(() => parse(extra));
    expect(f.code).toBe(CniCode.InvalidNetworkConfig);
    expect(f.msg).toMatch(message);
  });
  it.each([
    ['', CniCode.DecodingFailure, /not JSON/],
    ['{"cniVersion":', CniCode.DecodingFailure, /not JSON/],
    ['[1]', CniCode.DecodingFailure, /must be a JSON object/],
    ['{"name":"n","type":"tabby-cni"}', CniCode.InvalidNetworkConfig, /cniVersion must be given/],
    ['{"cniVersion":"0.2.0","name":"n","type":"tabby-cni"}', CniCode.IncompatibleVersion, /cniVersion "0.2.0" is not supported/],
    ['{"cniVersion":"1.2.0","name":"n","type":"tabby-cni"}', CniCode.IncompatibleVersion, /cniVersion "1.2.0" is not supported/],
  ])('refuses stdin %j', (stdin, code, message) => {
    const f = failure(() => parseNetworkConfig(stdin));
    expect(f.code).toBe(code);
    expect(f.msg).toMatch(message);
  });
  it.each([
    [{ name: '' }, CniCode.InvalidNetworkConfig, /name \(the network name\) must be given/],
    [{ name: '-net' }, CniCode.InvalidNetworkConfig, /name "-net" must start with a letter or digit/],
    [{ type: 'calico' }, CniCode.InvalidNetworkConfig, /type must be "tabby-cni", got "calico"/],
    [{ nodename: 3 }, CniCode.InvalidNetworkConfig, /nodename must be a non-empty string/],
    [{ mtu: 20 }, CniCode.InvalidNetworkConfig, /mtu 20 is out of range/],
    [{ mtu: '1500' }, CniCode.InvalidNetworkConfig, /mtu must be a whole number/],
    [{ ipam: [] }, CniCode.InvalidNetworkConfig, /ipam must be a JSON object/],
    [{ ipam: { type: 'host-local' } }, CniCode.UnsupportedField, /unsupported field ipam.type: "host-local"/],
    [{ ipam: { subnet: 'usePodCidr' } }, CniCode.UnsupportedField, /unsupported field ipam.subnet: "usePodCidr"/],
    [{ ipam: { assign_ipv4: 'yes' } }, CniCode.InvalidNetworkConfig, /ipam.assign_ipv4 must be "true" or "false"/],
    [{ ipam: { assign_ipv4: 'false' } }, CniCode.InvalidNetworkConfig, /nothing to assign/],
    [{ ipam: { ipv4_pools: 'pool' } }, CniCode.InvalidNetworkConfig, /ipam.ipv4_pools must be a list/],
    [{ ipam: { ipv4_pools: ['fd00::/64'] } }, CniCode.InvalidNetworkConfig, /"fd00::\/64" is not an IPv4 CIDR/],
    [{ ipam: { ipv4_pools: ['10.0.0.0/33'] } }, CniCode.InvalidNetworkConfig, /"10.0.0.0\/33" is not a CIDR/],
    [{ ipam: { ipv4_pools: ['Bad_Pool'] } }, CniCode.InvalidNetworkConfig, /"Bad_Pool" is neither an IPPool name nor a CIDR/],
    [{ tabby: { ipam: 'localhost' } }, CniCode.InvalidNetworkConfig, /tabby.ipam "localhost": expected HOST:PORT/],
    [{ tabby: { store: 'h:99999' } }, CniCode.InvalidNetworkConfig, /port 99999 is out of range/],
    [{ tabby: { stroe: 'x:1' } }, CniCode.UnsupportedField, /unsupported field tabby.stroe/],
    [{ tabby: { tls: { cert: '/c.pem' } } }, CniCode.InvalidNetworkConfig, /cert and tabby.tls.key must be given together/],
    [{ tabby: { tls: { cert: '/c.pem', key: '/k.pem' } } }, CniCode.InvalidNetworkConfig, /needs tabby.tls.ca/],
    [{ tabby: { tls: { ca: '/ca.pem', insecure: true } } }, CniCode.UnsupportedField, /unsupported field tabby.tls.insecure/],
    [{ tabby: { timeout_seconds: 0 } }, CniCode.InvalidNetworkConfig, /timeout_seconds must be a number of seconds/],
    [{ tabby: { route_table: 255 } }, CniCode.InvalidNetworkConfig, /route_table: route table 255 is the kernel's `local` table/],
    [{ tabby: { route_protocol: 12 } }, CniCode.InvalidNetworkConfig, /route_protocol: route protocol 12 belongs to bird/],
    [{ log_level: 'loud' }, CniCode.InvalidNetworkConfig, /log_level "loud" is not one of/],
    [{ runtimeConfig: { 'io.kubernetes.cri.pod-annotations': { 'cni.projectcalico.org/ipv4pools': 'pool-a' } } }, CniCode.InvalidNetworkConfig, /must be a JSON list of IPPool names or CIDRs/],
    [{ args: { cni: { 'cni.projectcalico.org/ipv4pools': '["fd00::/64"]' } } }, CniCode.InvalidNetworkConfig, /is not an IPv4 CIDR/],
    [{ prevResult: 'x' }, CniCode.InvalidNetworkConfig, /prevResult must be a JSON object/],
    [{ 'cni.dev/valid-attachments': {} }, CniCode.InvalidNetworkConfig, /cni.dev\/valid-attachments must be a list of \{"containerID", "ifname"\} objects/],
    [{ 'cni.dev/valid-attachments': ['c1'] }, CniCode.InvalidNetworkConfig, /cni.dev\/valid-attachments\[0\] must be a \{"containerID", "ifname"\} object/],
    [{ 'cni.dev/attachments': [{ containerID: '' }] }, CniCode.InvalidNetworkConfig, /cni.dev\/attachments\[0\].containerID must be a non-empty string/],
    [{ 'cni.dev/valid-attachments': [{ containerID: 'c1', ifname: 0 }] }, CniCode.InvalidNetworkConfig, /\[0\].ifname must be a string/],
  ])('refuses %j', (extra, code, message) => {
    const f = failure(() => parse(extra));
    expect(f.code).toBe(code);
    expect(f.msg).toMatch(message);
  });
});

describe('the workload identity (Calico\'s names)', () => {
  const config = parse({ nodename: 'node-1' });
  it('names a pod: orchestrator k8s, cali + SHA-1(ns.pod), handle <network>.<containerID>', () => {
    const env = parseEnvironment({ ...ENV, CNI_ARGS: 'K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=kube-dns-6f4fd4bdf-8q7zp' });
    expect(workloadIdentity(env, config, 'ignored')).toEqual({
      orchestrator: 'k8s',
      namespace: 'kube-system',
      name: 'kube-dns-6f4fd4bdf-8q7zp',
      node: 'node-1',
      containerId: 'c0ffee',
      endpoint: 'eth0',
      handle: 'k8s-pod-network.c0ffee',
      endpointName: 'node--1-k8s-kube--dns--6f4fd4bdf--8q7zp-eth0',
      // The same name tabbyctl workload add gives the pod (packages/api workloadInterfaceName).
      hostInterface: 'cali800a63073ed',
      mac: containerMac('c0ffee', 'eth0'),
    });
  });
  it('names a bare container (podman: K8S_POD_NAME alone) by its ID in namespace default', () => {
    const cid = '0123456789abcdef0123456789abcdef';
    const env = parseEnvironment({ ...ENV, CNI_CONTAINERID: cid, CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web' });
    expect(workloadIdentity(env, config, 'ignored')).toMatchObject({
      orchestrator: 'cni',
      namespace: 'default',
      name: cid,
      endpointName: `node--1-cni-${cid}-eth0`,
      hostInterface: 'cali0123456789a',
      handle: `k8s-pod-network.${cid}`,
    });
  });
  it('takes the node name from the host name (lower case) when the config gives none', () => {
    expect(workloadIdentity(parseEnvironment(ENV), parse({}), ' Worker-7 ').node).toBe('worker-7');
  });
  it('refuses names a WorkloadEndpoint cannot carry', () => {
    expect(failure(() => workloadIdentity(parseEnvironment({ ...ENV, CNI_CONTAINERID: 'ABC' }), config, 'h'))).toMatchObject({ code: CniCode.InvalidEnvironment, msg: expect.stringMatching(/lower-case letters, digits and "-"/) as unknown });
    expect(failure(() => workloadIdentity(parseEnvironment({ ...ENV, CNI_ARGS: 'K8S_POD_NAMESPACE=Bad;K8S_POD_NAME=p' }), config, 'h'))).toMatchObject({ code: CniCode.InvalidEnvironment });
    expect(failure(() => workloadIdentity(parseEnvironment(ENV), parse({}), 'bad_host'))).toMatchObject({ code: CniCode.InvalidNetworkConfig, msg: expect.stringMatching(/node name "bad_host" \(the host name\)/) as unknown });
  });
  it('derives a stable, locally administered unicast MAC per container interface', () => {
    const mac = containerMac('c0ffee', 'eth0');
    expect(mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(mac).toBe(containerMac('c0ffee', 'eth0'));
    expect(mac).not.toBe(containerMac('c0ffee', 'eth1'));
    const first = parseInt(mac.slice(0, 2), 16);
    expect(first & 0x01).toBe(0);
    expect(first & 0x02).toBe(2);
  });
});

describe('results and errors', () => {
  const outcome = { hostInterface: 'cali800a63073ed', containerInterface: 'eth0', containerMac: '0a:00:00:00:00:01', sandbox: '/var/run/netns/cni-1', addresses: ['198.19.0.5/32', 'fd00::5/128'] };
  it('ADD result, spec 1.0.0', () => {
    expect(addResult('1.0.0', outcome, undefined)).toEqual({
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'cali800a63073ed', mac: 'ee:ee:ee:ee:ee:ee' },
        { name: 'eth0', mac: '0a:00:00:00:00:01', sandbox: '/var/run/netns/cni-1' },
      ],
      ips: [
        { address: '198.19.0.5/32', gateway: '169.254.1.1', interface: 1 },
        { address: 'fd00::5/128', gateway: 'fe80::ecee:eeff:feee:eeee', interface: 1 },
      ],
      routes: [
        { dst: '0.0.0.0/0', gw: '169.254.1.1' },
        { dst: '::/0', gw: 'fe80::ecee:eeff:feee:eeee' },
      ],
      dns: {},
    });
  });
  it('ADD result, spec 1.1.0: as 1.0.0, plus each interface\'s mtu when the config sets one', () => {
    expect(addResult('1.1.0', outcome, undefined)).toEqual({ ...addResult('1.0.0', outcome, undefined), cniVersion: '1.1.0' });
    expect(addResult('1.1.0', { ...outcome, mtu: 1440 }, undefined).interfaces).toEqual([
      { name: 'cali800a63073ed', mac: 'ee:ee:ee:ee:ee:ee', mtu: 1440 },
      { name: 'eth0', mac: '0a:00:00:00:00:01', mtu: 1440, sandbox: '/var/run/netns/cni-1' },
    ]);
    expect(addResult('1.0.0', { ...outcome, mtu: 1440 }, undefined).interfaces.map((i) => i.mtu)).toEqual([undefined, undefined]);
  });
  it.each(['0.3.0', '0.3.1', '0.4.0'] as const)('ADD result %s carries ips[].version', (v) => {
    const r = addResult(v, outcome, { nameservers: ['10.96.0.10'] });
    expect(r.cniVersion).toBe(v);
    expect(r.ips.map((i) => i.version)).toEqual(['4', '6']);
    expect(r.dns).toEqual({ nameservers: ['10.96.0.10'] });
  });
  it('reads a prevResult of any version', () => {
    expect(parsePrevResult({ cniVersion: '0.4.0', interfaces: [{ name: 'caliX', mac: 'ee:ee:ee:ee:ee:ee' }, { name: 'eth0', sandbox: '/x' }], ips: [{ version: '4', address: '198.19.0.5/32', interface: 1 }] })).toEqual({
      addresses: ['198.19.0.5/32'],
      interfaces: [
        { name: 'caliX', mac: 'ee:ee:ee:ee:ee:ee' },
        { name: 'eth0', mac: '', sandbox: '/x' },
      ],
    });
    expect(failure(() => parsePrevResult(undefined))).toMatchObject({ code: CniCode.InvalidNetworkConfig, msg: expect.stringMatching(/prevResult must be given/) as unknown });
    expect(failure(() => parsePrevResult({ ips: [{ address: '1.2.3.4' }] })).code).toBe(CniCode.InvalidNetworkConfig);
  });
  it('error JSON: the spec\'s fields; anything unexpected is code 100', () => {
    expect(errorJson(new CniError(CniCode.TryAgainLater, 'ipam down', 'retry'), '0.4.0')).toEqual({ cniVersion: '0.4.0', code: 11, msg: 'ipam down', details: 'retry' });
    expect(errorJson(new CniError(CniCode.InvalidNetworkConfig, 'bad'), '1.0.0')).toEqual({ cniVersion: '1.0.0', code: 7, msg: 'bad' });
    expect(errorJson(new TypeError('boom'), '1.0.0')).toMatchObject({ cniVersion: '1.0.0', code: 100, msg: 'internal error: boom' });
  });
});

describe('GC: what is stale (pure)', () => {
  const alloc = (handle: string, address: string, attributes: Record<string, string>, over: { node?: string; pending?: boolean } = {}) => ({ address, handle, node: over.node ?? 'n1', attributes, block: '', pending: over.pending ?? false });
  it('a handle is the network\'s attachment only when it is exactly <network>.<containerID> of an allocation on this node', () => {
    const plan = planGc(
      'k8s.pod',
      'n1',
      [
        alloc('k8s.pod.c1', '10.0.0.1', { containerID: 'c1', namespace: 'ns', pod: 'p1', endpoint: 'eth0' }),
        alloc('k8s.pod.c1', 'fd00::1', { containerID: 'c1', namespace: 'ns', pod: 'p1', endpoint: 'eth0' }),
        alloc('k8s.pod.c2', '10.0.0.2', { containerID: 'c2', namespace: 'ns', pod: 'p2' }),
        // Network "k8s.pod.x" (names and container IDs may both hold dots): its container is x.c3, not ours.
        alloc('k8s.pod.x.c3', '10.0.0.3', { containerID: 'c3' }),
        alloc('k8s.pod.c4', '10.0.0.4', { containerID: 'c4' }, { node: 'n2' }),
        alloc('k8s.pod.c5', '10.0.0.5', { containerID: 'c5' }, { pending: true }),
        alloc('k8s.pod.c6', '10.0.0.6', {}),
      ],
      [{ containerId: 'c2', ifname: 'eth0' }],
    );
    expect(plan.stale).toEqual([{ handle: 'k8s.pod.c1', containerId: 'c1', namespace: 'ns', name: 'p1', endpoint: 'eth0', addresses: ['10.0.0.1/32', 'fd00::1/128'] }]);
    expect(plan.kept).toEqual(['k8s.pod.c2']);
    expect(plan.ignored).toEqual([
      { handle: 'k8s.pod.x.c3', reason: "not network k8s.pod's handle for container c3" },
      { handle: 'k8s.pod.c4', reason: 'allocated to node n2, not n1' },
      { handle: 'k8s.pod.c5', reason: 'a workload add or delete of this handle is under way' },
      { handle: 'k8s.pod.c6', reason: 'no containerID recorded: not made by a CNI ADD' },
    ]);
  });
});

describe('GC: which host interfaces go (pure)', () => {
  const veth = (name: string, mac = 'ee:ee:ee:ee:ee:ee') => ({ name, mac, kind: 'veth' });
  it('removes only a cali veth with ee:ee:ee:ee:ee:ee whose routes in the table are all released addresses, one of them ours', () => {
    const plan = planHostSweep({
      addresses: ['198.19.0.7/32', '2001:db8::7/128', '198.19.0.8/32', '198.19.0.9/32', '198.19.0.10/32', '198.19.0.11/32', '198.19.0.12/32'],
      links: [veth('caliold'), veth('calilive'), veth('calimac', '02:00:00:00:00:01'), { name: 'calibr', mac: 'ee:ee:ee:ee:ee:ee', kind: 'bridge' }, veth('eth9')],
      tableRoutes: [
        { dst: '198.19.0.7/32', dev: 'caliold' },
        { dst: '2001:db8::7/128', dev: 'caliold' },
        { dst: 'fe80::/64', dev: 'caliold' },
        { dst: '198.19.0.8/32', dev: 'calilive' },
        { dst: '198.19.0.99/32', dev: 'calilive' },
        { dst: '198.19.0.9/32', dev: 'calimac' },
        { dst: '198.19.0.10/32', dev: 'calibr' },
        { dst: '198.19.0.11/32', dev: 'eth9' },
        { dst: '198.19.0.12/32', dev: 'calistatic' },
      ],
      ourRoutes: [
        { dst: '198.19.0.7/32', dev: 'caliold' },
        { dst: '2001:0db8::7/128', dev: 'caliold' },
        { dst: '198.19.0.8/32', dev: 'calilive' },
        { dst: '198.19.0.9/32', dev: 'calimac' },
        { dst: '198.19.0.10/32', dev: 'calibr' },
        { dst: '198.19.0.11/32', dev: 'eth9' },
        { dst: '198.19.0.20/32', dev: 'caliother' }, // not being released: not looked at
      ],
    });
    expect(plan.remove).toEqual([{ name: 'caliold', addresses: ['198.19.0.7/32', '2001:db8::7/128'] }]);
    expect(plan.kept).toEqual([
      { name: 'calibr', reason: 'it is a bridge, not a veth' },
      { name: 'calilive', reason: 'it also routes 198.19.0.99/32, which stay allocated' },
      { name: 'calimac', reason: "its MAC 02:00:00:00:00:01 is not tabby-cni's ee:ee:ee:ee:ee:ee" },
      { name: 'eth9', reason: 'its name does not start with cali' },
    ]);
  });
  it('an interface with a released address only by another protocol (Calico\'s boot, a static route) is not looked at', () => {
    expect(planHostSweep({ addresses: ['198.19.0.7/32'], links: [veth('caliold')], tableRoutes: [{ dst: '198.19.0.7/32', dev: 'caliold' }], ourRoutes: [] })).toEqual({ remove: [], kept: [] });
  });
  it('reads kinds from ip -j -d link show', () => {
    const text = '[{"ifindex":3,"link":"p0","ifname":"caliaaa","flags":["UP"],"address":"ee:ee:ee:ee:ee:ee","linkinfo":{"info_kind":"veth"}},{"ifindex":1,"ifname":"lo","address":"00:00:00:00:00:00"}]';
    expect(parseLinkKinds(text)).toEqual([
      { name: 'caliaaa', mac: 'ee:ee:ee:ee:ee:ee', kind: 'veth' },
      { name: 'lo', mac: '00:00:00:00:00:00', kind: '' },
    ]);
    expect(parseLinkKinds('')).toEqual([]);
  });
});
