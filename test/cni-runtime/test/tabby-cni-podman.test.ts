/**
 * Issue 14, point 6: tabby-cni under a real container runtime. Podman 4.3 (CNI backend) on two
 * nodes calls tabby-cni for every container; the containers get their addresses from Tabby
 * IPAM, their WorkloadEndpoints in the store and Calico's wiring on the node; the agents
 * (`--dataplane linux`) carry the routes over BGP, and containers on different nodes ping each
 * other. Then the seed's pool migration with real containers.
 *
 * The fabric (nothing in this machine's own namespace, only 198.18.0.0/15, no link to the root
 * namespace; see test/netns for the same control plane):
 * - `ctl`: bridge br0 198.18.160.1/24; nats-server, tabby-store, tabby-ipam, tabby-topology;
 *   tabbyctl runs here;
 * - `node1`, `node2`: eth0 198.18.160.11/.12 on br0, forwarding on, default via ctl (which
 *   forwards nothing), one tabby-agent each (`--dataplane linux`, TABBY_NETNS_GUARD), and one
 *   podman each (src/podman.ts) whose only network is the conflist `tabby-cni install` wrote
 *   for the node, with the single executable it installed (as the DaemonSet's init container);
 * - pools: pool-old 198.19.160.0/24, then pool-new 198.19.161.0/24 (blockSize 26).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  Fabric,
  REPO_ROOT,
  eventually,
  startNatsIn,
  startServiceIn,
  tempDir,
  type KernelRoute,
  type PingResult,
  type ServiceProcess,
} from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Podman, cniCallRecorder, type CniCall, type CniNetworkList, type ContainerInfo } from '../src/podman.js';

// Registered before anything is built: containers, namespaces and processes go even when set-up fails.
const fabric = new Fabric();
const dir = tempDir('tabby-cni-podman-');
const podmans = new Map<NodeName, Podman>();
afterAll(async () => {
  try {
    // Podman first: its DELs need the node namespaces (and reach IPAM while it still runs).
    for (const p of podmans.values()) await p.cleanup().catch((e: unknown) => console.log(`podman clean-up: ${String(e)}`));
  } finally {
    try {
      await fabric.cleanup();
    } finally {
      dir.remove();
    }
  }
}, 90_000);

const NODES = ['node1', 'node2'] as const;
type NodeName = (typeof NODES)[number];
const CTL = '198.18.160.1';
const NODE_IP: Record<NodeName, string> = { node1: '198.18.160.11', node2: '198.18.160.12' };
const STORE = `${CTL}:50051`;
const IPAM = `${CTL}:50052`;
const TOPOLOGY = `${CTL}:50053`;
const NATS = `nats://${CTL}:4222`;
const CLI = path.join(REPO_ROOT, 'packages', 'cli', 'dist', 'main.js');
/**
 * `tabby-cni install`, as the agent DaemonSet's init container runs it: it copies the plugin
 * (the single executable packages/cni builds, or TABBY_CNI_BIN) and writes the conflist podman uses.
 */
const INSTALLER = path.join(REPO_ROOT, 'node_modules', '.bin', 'tabby-cni');
const PLUGIN = process.env.TABBY_CNI_BIN ?? path.join(REPO_ROOT, 'packages', 'cni', 'dist', 'sea', 'tabby-cni');
/** The network name: also the prefix of the IPAM handle (`<network>.<containerID>`). */
const NETWORK = 'tabby-pods';
const POOL_OLD = { name: 'pool-old', cidr: '198.19.160.0/24' };
const POOL_NEW = { name: 'pool-new', cidr: '198.19.161.0/24' };
const TABBY_PROTO = 84;
const STEP_TIMEOUT = 90_000;

const agents = new Map<NodeName, ServiceProcess>();
/** tabby-cni behind a wrapper that logs each call podman makes, one log per node. */
const recorders = new Map<NodeName, { dir: string; calls(): CniCall[] }>();
const pluginLog = (n: NodeName): string => path.join(dir.path, `tabby-cni-${n}.log`);
const containers = new Map<string, ContainerInfo & { node: NodeName }>();
const ctlNs = fabric.ns('ctl');
const nodeNs = (n: NodeName): string => fabric.ns(n);

// ---------------------------------------------------------------- addresses

function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}
function inCidr(ip: string, cidr: string): boolean {
  const [net, len] = cidr.split('/');
  const size = 2 ** (32 - Number(len));
  return Math.floor(ipToInt(ip) / size) === Math.floor(ipToInt(net) / size);
}

// ---------------------------------------------------------------- tabbyctl

async function tabbyctl(args: readonly string[], input?: string): Promise<string> {
  const r = await fabric.exec(ctlNs, process.execPath, [CLI, '--store', STORE, '--ipam', IPAM, '--topology', TOPOLOGY, ...args], { input, timeoutMs: 30_000 });
  return r.stdout;
}

async function tabbyctlResult(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return fabric.exec(ctlNs, process.execPath, [CLI, '--store', STORE, '--ipam', IPAM, '--topology', TOPOLOGY, ...args], { timeoutMs: 30_000, allowFailure: true });
}

const poolYaml = (p: { name: string; cidr: string }, disabled = false): string =>
  `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${p.name}\nspec:\n  cidr: ${p.cidr}\n  blockSize: 26\n  nodeSelector: all()\n  disabled: ${disabled}\n`;

interface Wep {
  metadata: { name: string; namespace?: string };
  spec: { node?: string; interfaceName?: string; ipNetworks?: string[]; containerID?: string; pod?: string; workload?: string; orchestrator?: string; endpoint?: string };
}

async function weps(): Promise<Wep[]> {
  const out = JSON.parse(await tabbyctl(['get', 'wep', '-A', '-o', 'json'])) as { items?: Wep[] } | Wep[];
  return Array.isArray(out) ? out : (out.items ?? []);
}

/** The WorkloadEndpoint holding `address`, or undefined. */
async function wepOf(address: string): Promise<Wep | undefined> {
  return (await weps()).find((w) => (w.spec.ipNetworks ?? []).some((n) => n.split('/')[0] === address));
}

/** `tabbyctl ipam show --ip ADDR`: in use or not. */
async function ipInUse(address: string): Promise<boolean> {
  const r = await tabbyctlResult(['ipam', 'show', '--ip', address]);
  if (/is in use/.test(r.stdout)) return true;
  if (/is not assigned/.test(r.stdout + r.stderr)) return false;
  throw new Error(`tabbyctl ipam show --ip ${address}: ${r.stdout}${r.stderr}`);
}

// ---------------------------------------------------------------- nodes

function agentArgs(node: NodeName): string[] {
  return [
    '--node',
    node,
    '--bgp-address',
    NODE_IP[node],
    '--listen',
    `${NODE_IP[node]}:50054`,
    '--store',
    STORE,
    '--topology',
    TOPOLOGY,
    '--nats',
    NATS,
    '--peer-allow',
    '198.18.0.0/15',
    '--hold-time',
    '9',
    '--status-interval',
    '2',
    '--dataplane',
    'linux',
  ];
}

interface PeerRow {
  peerIP: string;
  state: string;
  info: string;
}

async function meshEstablished(): Promise<boolean> {
  const list = JSON.parse(await tabbyctl(['get', 'nodestatus', '-o', 'json'])) as { items?: { metadata?: { name?: string }; status?: { bgp?: { peersV4?: PeerRow[] } } }[] };
  return NODES.every((n) => {
    const other = NODE_IP[n === 'node1' ? 'node2' : 'node1'];
    const item = (list.items ?? []).find((i) => i.metadata?.name === n);
    return (item?.status?.bgp?.peersV4 ?? []).some((r) => r.peerIP === other && r.state === 'up' && r.info === 'Established');
  });
}

/**
 * Installs tabby-cni for a node the way the DaemonSet's init container does, into a folder of
 * the test's standing in for the node's /opt/cni/bin and /etc/cni/net.d: the node's
 * plugin and its tabby-cni network (the conflist podman is given, as written).
 */
function installFor(node: NodeName): { plugin: string; network: CniNetworkList } {
  const root = path.join(dir.path, `cni-install-${node}`);
  const args = ['install', `--bin-dir=${root}/opt/cni/bin`, `--conf-dir=${root}/etc/cni/net.d`, `--node=${node}`, `--network-name=${NETWORK}`, `--store=${STORE}`, `--ipam=${IPAM}`, '--no-resolve', `--log-file=${pluginLog(node)}`, `--source=${PLUGIN}`];
  const r = spawnSync(INSTALLER, args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  if (r.status !== 0) throw new Error(`tabby-cni ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const network = JSON.parse(readFileSync(path.join(root, 'etc/cni/net.d/10-tabby.conflist'), 'utf8')) as CniNetworkList;
  console.log(`tabby-cni install for ${node}: ${JSON.stringify(network)}`);
  return { plugin: path.join(root, 'opt/cni/bin/tabby-cni'), network };
}

function pm(node: NodeName): Podman {
  const p = podmans.get(node);
  if (!p) throw new Error(`no podman on ${node}`);
  return p;
}

async function runContainer(name: string, node: NodeName): Promise<ContainerInfo & { node: NodeName }> {
  const t0 = Date.now();
  const c = { ...(await pm(node).run(name)), node };
  containers.set(name, c);
  console.log(`container ${name} on ${node}: ${c.address}/${c.prefixLength} mac ${c.macAddress} netns ${c.sandboxKey} in ${Date.now() - t0} ms`);
  return c;
}

function ctr(name: string): ContainerInfo & { node: NodeName } {
  const c = containers.get(name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
}

/** The CNI commands podman made for one container, in order. */
function callsOf(c: ContainerInfo & { node: NodeName }): string[] {
  return (recorders.get(c.node)?.calls() ?? []).filter((x) => x.containerId === c.id).map((x) => x.command);
}

function tabbyRoutes(node: NodeName): Promise<KernelRoute[]> {
  return fabric.routes(nodeNs(node), { proto: TABBY_PROTO });
}

function logPing(what: string, r: PingResult): void {
  console.log(`ping ${what}: ${r.transmitted} sent, ${r.received} received`);
}

/** On a failed step: the agents' warnings and errors, and what podman's containers look like. */
function showLogsOnFailure(): void {
  onTestFailed(async () => {
    for (const [n, a] of agents) {
      const lines = a.process
        .output()
        .split('\n')
        .filter((l) => /"level":(40|50|60)/.test(l));
      console.log(`--- ${n} agent (pid ${a.process.pid}) warnings/errors, last 10:\n${lines.slice(-10).join('\n')}`);
    }
    for (const n of NODES) {
      console.log(`--- ${n}: routes\n${(await fabric.ip(nodeNs(n), ['route'])).trim()}\n--- ${n}: links\n${(await fabric.ip(nodeNs(n), ['-br', 'link'])).trim()}`);
      if (podmans.has(n)) console.log(`--- ${n}: podman ps\n${[...(await pm(n).ps())].map(([c, s]) => `${c} ${s}`).join('\n')}`);
      const calls = recorders.get(n)?.calls() ?? [];
      console.log(`--- ${n}: CNI calls\n${calls.map((x) => `${x.command} ${x.containerId.slice(0, 12)} ${x.netns} ${JSON.stringify(x.args)}`).join('\n')}`);
      if (existsSync(pluginLog(n))) console.log(`--- ${n}: tabby-cni log, last 20 lines\n${readFileSync(pluginLog(n), 'utf8').trimEnd().split('\n').slice(-20).join('\n')}`);
    }
  });
}

// ---------------------------------------------------------------- set-up

beforeAll(async () => {
  const t0 = Date.now();
  for (const f of [INSTALLER, PLUGIN]) if (!existsSync(f)) throw new Error(`${f} is missing: build packages/cni first (npm run build)`);
  await fabric.addNamespace('ctl');
  await fabric.addBridge(ctlNs, 'br0', `${CTL}/24`);
  await fabric.sysctl(ctlNs, { 'net.ipv4.ip_forward': 0 });
  for (const n of NODES) {
    const ns = await fabric.addNamespace(n);
    await fabric.connectToBridge(ctlNs, 'br0', ns, { port: `p-${n}`, address: `${NODE_IP[n]}/24` });
    await fabric.sysctl(ns, { 'net.ipv4.ip_forward': 1 });
    await fabric.ip(ns, ['route', 'add', 'default', 'via', CTL, 'dev', 'eth0']);
  }
  await startNatsIn(fabric, ctlNs, dir.path, CTL, 4222);
  const log = (s: string): string => path.join(dir.path, `${s}.log`);
  await startServiceIn(fabric, ctlNs, 'store', ['--listen', STORE, '--data-dir', path.join(dir.path, 'store'), '--nats', NATS], { logFile: log('store') });
  await Promise.all([
    startServiceIn(fabric, ctlNs, 'ipam', ['--listen', IPAM, '--data-dir', path.join(dir.path, 'ipam'), '--store', STORE, '--nats', NATS], { logFile: log('ipam') }),
    startServiceIn(fabric, ctlNs, 'topology', ['--listen', TOPOLOGY, '--store', STORE, '--ipam', IPAM, '--nats', NATS], { logFile: log('topology') }),
  ]);
  await tabbyctl(['apply', '-f', '-'], `apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata:\n  name: default\nspec:\n  nodeToNodeMeshEnabled: true\n  asNumber: 64512\n---\n${poolYaml(POOL_OLD)}`);
  for (const n of NODES) {
    agents.set(n, await startServiceIn(fabric, nodeNs(n), 'agent', agentArgs(n), { name: `agent-${n}`, env: { TABBY_NETNS_GUARD: nodeNs(n) }, logFile: log(`agent-${n}`) }));
  }
  for (const n of NODES) {
    // The installed plugin under the name of its type (behind the call recorder), beside the
    // reference plugins, and the installed conflist as podman's only network.
    const installed = installFor(n);
    const rec = cniCallRecorder(path.join(dir.path, `cni-bin-${n}`), 'tabby-cni', installed.plugin, path.join(dir.path, `cni-calls-${n}.log`));
    recorders.set(n, rec);
    const p = new Podman({ fabric, namespace: nodeNs(n), dir: path.join(dir.path, `podman-${n}`), pluginDirs: [rec.dir, '/usr/lib/cni'], networks: [installed.network] });
    podmans.set(n, p);
  }
  await Promise.all([...podmans.values()].map((p) => p.importImage()));
  await eventually('the node-to-node mesh to be Established at both nodes', meshEstablished, 40_000, 250);
  console.log(`fabric ${fabric.prefix}: control plane, two agents with their mesh up, podman on both nodes in ${Date.now() - t0} ms`);
}, 120_000);

// ---------------------------------------------------------------- steps

describe('tabby-cni under podman on two nodes', () => {
  it('1. containers on both nodes get addresses from Tabby IPAM, WorkloadEndpoints and Calico wiring', async () => {
    showLogsOnFailure();
    await runContainer('web1', 'node1');
    await runContainer('web2', 'node2');
    for (const c of containers.values()) {
      expect(inCidr(c.address, POOL_OLD.cidr), `${c.name}'s ${c.address} is in ${POOL_OLD.cidr}`).toBe(true);
      expect(callsOf(c)).toEqual(['ADD']);
      const wep = await eventually(`a WorkloadEndpoint for ${c.name} (${c.address})`, () => wepOf(c.address), 10_000, 200);
      console.log(`wep of ${c.name}: ${wep.metadata.namespace}/${wep.metadata.name} node ${wep.spec.node} ${wep.spec.interfaceName} ${JSON.stringify(wep.spec.ipNetworks)} containerID ${wep.spec.containerID ?? '-'}`);
      expect(wep.spec.node).toBe(c.node);
      expect(wep.spec.containerID).toBe(c.id);
      expect(wep.spec.ipNetworks).toEqual([`${c.address}/32`]);
      expect(wep.spec.interfaceName).toMatch(/^cali[0-9a-f]{11}$/);
      // The host side, named as the endpoint says, in the node's namespace (not this machine's).
      const link = await fabric.ip(nodeNs(c.node), ['-j', 'link', 'show', 'dev', wep.spec.interfaceName!]);
      expect(link).toContain('ee:ee:ee:ee:ee:ee');
      // Inside: the /32 and the default route via 169.254.1.1.
      const addr = await pm(c.node).exec(c.name, ['ip', '-4', 'addr', 'show', 'eth0']);
      expect(addr.stdout).toContain(`${c.address}/32`);
      const routes = await pm(c.node).exec(c.name, ['ip', 'route']);
      expect(routes.stdout).toMatch(/default via 169\.254\.1\.1 dev eth0/);
      // The agent's /32 to the local workload.
      await eventually(`${c.node}'s /32 to ${c.name}`, async () => (await tabbyRoutes(c.node)).some((r) => r.dst === `${c.address}/32` && r.dev === wep.spec.interfaceName), 20_000, 200);
    }
    const table = await tabbyctl(['get', 'wep', '-A']);
    console.log(`tabbyctl get wep -A:\n${table.trimEnd()}`);
  }, STEP_TIMEOUT);

  it('2. the containers ping each other across the nodes (routes learned over BGP)', async () => {
    showLogsOnFailure();
    const w1 = ctr('web1');
    const w2 = ctr('web2');
    await eventually(`node2 to route ${w1.address} via node1`, async () => (await tabbyRoutes('node2')).some((r) => r.gateway === NODE_IP.node1 && inCidr(w1.address, r.dst.includes('/') ? r.dst : `${r.dst}/32`)), 20_000, 200);
    await eventually(`node1 to route ${w2.address} via node2`, async () => (await tabbyRoutes('node1')).some((r) => r.gateway === NODE_IP.node2 && inCidr(w2.address, r.dst)), 20_000, 200);
    const a = await pm('node1').ping('web1', w2.address, { count: 3 });
    logPing(`web1 (node1) -> web2 ${w2.address} (node2)`, a);
    const b = await pm('node2').ping('web2', w1.address, { count: 3 });
    logPing(`web2 (node2) -> web1 ${w1.address} (node1)`, b);
    expect(a.received, a.output).toBe(3);
    expect(b.received, b.output).toBe(3);
  }, STEP_TIMEOUT);

  it('3. podman rm releases the address and removes the WorkloadEndpoint (the CNI DEL)', async () => {
    showLogsOnFailure();
    const tmp = await runContainer('tmp1', 'node1');
    expect(await ipInUse(tmp.address)).toBe(true);
    await pm('node1').rm('tmp1', { force: true });
    containers.delete('tmp1');
    expect(callsOf(tmp), 'podman rm -f of a running container: one DEL').toEqual(['ADD', 'DEL']);
    expect(existsSync(tmp.sandboxKey)).toBe(false);
    await eventually(`${tmp.address} to be released`, async () => !(await ipInUse(tmp.address)), 10_000, 200);
    expect(await wepOf(tmp.address)).toBeUndefined();
    await eventually(`node1's /32 to tmp1 to go`, async () => !(await tabbyRoutes('node1')).some((r) => r.dst === `${tmp.address}/32`), 20_000, 200);
    expect(pm('node1').cachedResults().some((f) => f.includes(tmp.id))).toBe(false);
  }, STEP_TIMEOUT);

  it('4. pool migration with real containers: web2 comes back from the new pool and is reachable from node1', async () => {
    showLogsOnFailure();
    const old = ctr('web2');
    await tabbyctl(['apply', '-f', '-'], poolYaml(POOL_NEW));
    const plan = await tabbyctl(['ipam', 'migrate', '--from', POOL_OLD.name, '--to', POOL_NEW.name]);
    console.log(`tabbyctl ipam migrate:\n${plan.trimEnd()}`);
    expect(plan).toContain(`Disabled IP pool ${POOL_OLD.name}`);
    // "Delete and re-create the container": the same name, a new container id.
    await pm('node2').rm('web2', { force: true });
    await eventually(`${old.address} to be released`, async () => !(await ipInUse(old.address)), 10_000, 200);
    const fresh = await runContainer('web2', 'node2');
    expect(fresh.id).not.toBe(old.id);
    expect(inCidr(fresh.address, POOL_NEW.cidr), `web2's new address ${fresh.address} is in ${POOL_NEW.cidr}`).toBe(true);
    const wep = await eventually(`the WorkloadEndpoint of the new web2`, () => wepOf(fresh.address), 10_000, 200);
    expect(wep.spec.node).toBe('node2');
    expect(await wepOf(old.address)).toBeUndefined();
    await eventually(`node1 to route ${fresh.address} via node2`, async () => (await tabbyRoutes('node1')).some((r) => r.gateway === NODE_IP.node2 && inCidr(fresh.address, r.dst)), 20_000, 200);
    const p = await pm('node1').ping('web1', fresh.address, { count: 3 });
    logPing(`web1 (node1, old pool) -> new web2 ${fresh.address} (node2, new pool)`, p);
    expect(p.received, p.output).toBe(3);
    const back = await pm('node2').ping('web2', ctr('web1').address, { count: 2 });
    expect(back.received, back.output).toBe(2);
    // web1 still holds the old pool: it stays (disabled pools keep their allocations).
    const r = await tabbyctlResult(['get', 'ippool', POOL_OLD.name, '-o', 'wide']);
    expect(r.stdout).toMatch(new RegExp(`^${POOL_OLD.name} +${POOL_OLD.cidr.replace(/\./g, '\\.')} .* true\\s`, 'm'));
  }, STEP_TIMEOUT);

  it('5. web1 recreated too: the old pool empties and migrate --wait deletes it; IPAM has no leak', async () => {
    showLogsOnFailure();
    await pm('node1').rm('web1', { force: true });
    const w1 = await runContainer('web1', 'node1');
    expect(inCidr(w1.address, POOL_NEW.cidr)).toBe(true);
    const done = await tabbyctl(['ipam', 'migrate', '--from', POOL_OLD.name, '--to', POOL_NEW.name, '--wait', '--interval', '200ms', '--timeout', '30s']);
    console.log(done.trimEnd());
    expect(done).toContain(`Deleted IP pool ${POOL_OLD.name}`);
    const p = await pm('node2').ping('web2', w1.address, { count: 2 });
    expect(p.received, p.output).toBe(2);
    const check = await tabbyctlResult(['ipam', 'check']);
    console.log(`tabbyctl ipam check (exit ${check.code}):\n${check.stdout.trimEnd()}`);
    expect(check.code, check.stdout + check.stderr).toBe(0);
  }, STEP_TIMEOUT);

  it('6. clean-up: podman removes every container (DELs release every address), then nothing of the fabric is left', async () => {
    const addresses = [...containers.values()].map((c) => c.address);
    const pids = [...agents.values()].map((a) => a.process.pid);
    const live = [...containers.values()];
    for (const p of podmans.values()) await p.cleanup();
    for (const c of live) expect(callsOf(c), `${c.name}: one ADD, one DEL`).toEqual(['ADD', 'DEL']);
    for (const a of addresses) expect(await ipInUse(a), `${a} released`).toBe(false);
    expect(await weps()).toEqual([]);
    await fabric.cleanup();
    expect(await fabric.listOurs()).toEqual([]);
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid} is gone`).toThrow();
  }, STEP_TIMEOUT);
});
