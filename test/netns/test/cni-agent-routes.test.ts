/**
 * tabby-cni and tabby-agent on one node, together: the plugin adds each container's host route
 * (`ADDR dev cali… scope link proto 84`, the agent's protocol) before the agent has learned the
 * workload (IPAM → store → topology → agent), and the agent reconciles proto 84 in table main.
 * A reconcile in between must not remove the plugin's route (Calico's felix: the route cleanup
 * grace period); once the agent knows the workload the route is its own, unchanged.
 *
 * The node is a network namespace this test makes (`node`, 198.18.84.1/32 on its lo, no other
 * interface: nothing links it to this machine's own namespace). nats-server, tabby-store,
 * tabby-ipam, tabby-topology and tabby-agent (`--dataplane linux`, a table scan every second,
 * TABBY_NETNS_GUARD) run in it on 198.18.84.1; every container is a namespace of its own, and
 * packages/cni/dist/tabby-cni runs exactly as a runtime runs it (a process per call, CNI_* in
 * its environment, the config on stdin) under `nsenter --net` into the node, TABBY_NETNS_GUARD
 * set. `ip -ts monitor route` in the node records every route change; the fabric stops every
 * process by PID and deletes every namespace in afterAll, also on failure.
 *
 * Steps run in order:
 * 1. containers ADDed one after another while the agent follows at its own pace;
 * 2. containers ADDed while the agent cannot learn them (tabby-topology stopped with SIGSTOP for
 *    3 s, three scans): every route stays, sampled every 100 ms; adopted once learned;
 * 3. a container whose workload stays unknown past `--route-cleanup-grace`: its route goes after
 *    the grace period, no earlier, and comes back (the agent's) once the agent learns it;
 * 4. DEL of every container (half of them while the agent cannot learn it): the interfaces go with
 *    their routes, the agent puts none back and forgets them all;
 * 5. nothing of the fabric is left.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  NetnsControlPlane,
  REPO_ROOT,
  eventually,
  fabricTestbed,
  pauseProcess,
  requireTool,
  resumeProcess,
  sleep,
  startServiceIn,
  type ControlPlaneProcesses,
  type ServiceProcess,
  type TestProcess,
} from '@tabby/harness';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';

const { fabric, dir, cleanup } = fabricTestbed('tabby-cni-agent-');
afterAll(cleanup, 60_000);

const PLUGIN = path.join(REPO_ROOT, 'packages', 'cni', 'dist', 'tabby-cni');
const NSENTER = requireTool('nsenter', 'util-linux');
const IP = requireTool('ip', 'iproute2');
const NODE = 'cni-agent-node';
const NODE_IP = '198.18.84.1';
const POOL_CIDR = '198.19.84.0/24';
const NETWORK = 'k8s-pod-network';
const TABBY_PROTO = 84;
/** `--route-scan-interval`: a reconcile every second, so one always falls between ADD and learning. */
const SCAN_S = 1;
/** `--route-cleanup-grace`, shorter than the default 10 s to keep step 3 short. */
const GRACE_S = 6;
const STEP_TIMEOUT = 120_000;

const nodeNs = fabric.ns('node');
const controlPlane = new NetnsControlPlane(fabric, nodeNs, NODE_IP, dir.path);
let control: ControlPlaneProcesses;
let agent: ServiceProcess;
let monitor: TestProcess;

interface Container {
  readonly name: string;
  readonly containerId: string;
  readonly netns: string;
  readonly address: string;
  readonly hostInterface: string;
  /** Date.now() when its ADD returned. */
  readonly addedAt: number;
  /** Date.now() when its DEL started, once it did. */
  deletedAt?: number;
}
const containers = new Map<string, Container>();

// ---------------------------------------------------------------- the plugin, as a runtime runs it

interface CniRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cni(command: 'ADD' | 'DEL', name: string, containerId: string, netns: string): Promise<CniRun> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    TABBY_NETNS_GUARD: nodeNs,
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: `/run/netns/${netns}`,
    CNI_IFNAME: 'eth0',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name}`,
    CNI_PATH: '/opt/cni/bin',
  };
  const config = {
    cniVersion: '1.0.0',
    name: NETWORK,
    type: 'tabby-cni',
    nodename: NODE,
    ipam: { type: 'tabby-ipam' },
    tabby: { store: controlPlane.endpoints.store, ipam: controlPlane.endpoints.ipam },
  };
  return new Promise((resolve, reject) => {
    const child = spawn(NSENTER, [`--net=/run/netns/${nodeNs}`, PLUGIN], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(JSON.stringify(config));
  });
}

/** A container namespace and tabby-cni ADD for it, as a runtime does. */
async function addContainer(name: string): Promise<Container> {
  const netns = await fabric.addNamespace(name);
  const containerId = `${name}-${fabric.prefix}`;
  const r = await cni('ADD', name, containerId, netns);
  expect(r.code, `ADD ${name}: ${r.stdout}${r.stderr}`).toBe(0);
  const result = JSON.parse(r.stdout) as { interfaces: { name: string }[]; ips: { address: string }[] };
  const c: Container = {
    name,
    containerId,
    netns,
    address: (result.ips[0]?.address ?? '').replace(/\/32$/, ''),
    hostInterface: result.interfaces[0]?.name ?? '',
    addedAt: Date.now(),
  };
  expect(c.hostInterface).toMatch(/^cali[0-9a-f]{11}$/);
  containers.set(name, c);
  return c;
}

/** tabby-cni DEL, then the container's namespace goes (the runtime's part). */
async function deleteContainer(c: Container): Promise<void> {
  c.deletedAt = Date.now();
  const r = await cni('DEL', c.name, c.containerId, c.netns);
  expect(r.code, `DEL ${c.name}: ${r.stdout}${r.stderr}`).toBe(0);
  await fabric.deleteNamespace(c.netns);
}

// ---------------------------------------------------------------- what the node's table shows

/** One line of `ip -ts monitor route`. */
interface RouteEvent {
  readonly at: number;
  readonly deleted: boolean;
  readonly dst: string;
  readonly dev: string;
  readonly proto: string;
  /** `[Deleted ]ADDR dev IF proto P scope S`: the route without flags such as `linkdown` (the plugin adds it before the link is up). */
  readonly route: string;
  readonly line: string;
}

function routeEvents(): RouteEvent[] {
  const out: RouteEvent[] = [];
  for (const line of monitor.output().split('\n')) {
    const m = /^\[([^\]]+)\]\s*(Deleted )?(?:(?:blackhole|unicast|local|broadcast) )?(\S+)(.*)$/.exec(line.trim());
    if (!m) continue;
    const rest = m[4] ?? '';
    const dst = (m[3] ?? '').replace(/\/32$/, '');
    const dev = /\bdev (\S+)/.exec(rest)?.[1] ?? '';
    const proto = /\bproto (\S+)/.exec(rest)?.[1] ?? '';
    const scope = /\bscope (\S+)/.exec(rest)?.[1] ?? '';
    out.push({
      at: Date.parse(m[1] ?? ''),
      deleted: m[2] !== undefined,
      dst,
      dev,
      proto,
      route: `${m[2] ?? ''}${dst} dev ${dev} proto ${proto} scope ${scope}`,
      line: line.trim(),
    });
  }
  return out;
}

const eventsFor = (c: Container): RouteEvent[] => routeEvents().filter((e) => e.dst === c.address);

/** The /32 to a container as the plugin and the agent both write it. */
const wantRoute = (c: Container): string => `${c.address} dev ${c.hostInterface} proto ${TABBY_PROTO} scope link`;

/** `ip route show proto 84` /32s to cali interfaces: `ADDR dev IF proto 84 scope link`. */
async function workloadRoutes(): Promise<Set<string>> {
  const routes = await fabric.routes(nodeNs, { proto: TABBY_PROTO });
  return new Set(routes.filter((r) => r.type === 'unicast' && r.dst.endsWith('/32') && r.dev?.startsWith('cali')).map((r) => `${r.dst.replace(/\/32$/, '')} dev ${r.dev} proto ${TABBY_PROTO} scope ${r.scope ?? ''}`));
}

/**
 * The route to `c`, from its ADD until `until` (default now): added once (by the plugin), never
 * deleted and never written again (the agent adopted it as it was).
 */
function expectUntouched(c: Container, until = Number.POSITIVE_INFINITY): void {
  const evs = eventsFor(c).filter((e) => e.at < until);
  expect(
    evs.filter((e) => e.deleted).map((e) => e.line),
    `${c.name}: the route to ${c.address} was deleted while the container ran`,
  ).toEqual([]);
  expect(
    evs.map((e) => e.route),
    `${c.name}: the route to ${c.address} is written once, by the plugin`,
  ).toEqual([wantRoute(c)]);
}

// ---------------------------------------------------------------- what the agent knows

interface RoutingStatus {
  dataplane?: string;
  workloads?: number;
  waitingForInterface?: string[];
  failures?: { prefix: string; error: string }[];
}

async function agentRouting(): Promise<RoutingStatus> {
  const out = JSON.parse(await controlPlane.tabbyctl(['get', 'nodestatus', NODE, '-o', 'json'])) as { status?: { routes?: RoutingStatus } };
  return out.status?.routes ?? {};
}

/** Waits until the agent routes exactly `n` local workloads (it has learned them all, each with its interface). */
async function agentKnows(n: number): Promise<RoutingStatus> {
  return eventually(
    `the agent to route ${n} local workloads`,
    async () => {
      const r = await agentRouting();
      if ((r.workloads ?? 0) === n && (r.waitingForInterface ?? []).length === 0) return r;
      throw new Error(`routes status ${JSON.stringify(r)}`);
    },
    30_000,
    250,
  );
}

/** The agent's log says it left the route to `c` in place for the grace period (a scan saw it unknown). */
function agentSpared(c: Container): boolean {
  return agent.process
    .output()
    .split('\n')
    .some((l) => l.includes(`"route":"${c.address}/32 dev ${c.hostInterface}"`) && l.includes('left in place for the grace period'));
}

/** Stops tabby-topology (SIGSTOP) for `fn`: the agent keeps its last configuration and learns nothing new. */
async function withTopologyStopped<T>(fn: () => Promise<T>): Promise<T> {
  pauseProcess(control.topology.process);
  try {
    return await fn();
  } finally {
    resumeProcess(control.topology.process);
  }
}

function showOnFailure(): void {
  onTestFailed(async () => {
    const lines = agent.process.output().split('\n');
    console.log(`--- agent (pid ${agent.process.pid}), route lines and warnings, last 30:\n${lines.filter((l) => /route|"level":(40|50)/.test(l)).slice(-30).join('\n')}`);
    console.log(`--- ip monitor route:\n${monitor.output().trimEnd().split('\n').slice(-40).join('\n')}`);
    console.log(`--- routes:\n${(await fabric.ip(nodeNs, ['route'])).trimEnd()}`);
  });
}

// ---------------------------------------------------------------- set-up

beforeAll(async () => {
  expect(existsSync(PLUGIN), `${PLUGIN} is built (npm run build)`).toBe(true);
  await fabric.addNamespace('node');
  await fabric.ip(nodeNs, ['addr', 'add', `${NODE_IP}/32`, 'dev', 'lo']);
  // Every route change in the node from now on; a probe route, added and deleted until the
  // monitor reports it (an unchanged route makes no event), shows it is listening.
  monitor = fabric.start(nodeNs, 'ip-monitor-route', IP, ['-ts', 'monitor', 'route']);
  await eventually(
    'ip monitor to see the probe route',
    async () => {
      await fabric.ip(nodeNs, ['route', 'add', 'blackhole', '198.18.84.200/32', 'proto', 'static']);
      await fabric.ip(nodeNs, ['route', 'del', 'blackhole', '198.18.84.200/32', 'proto', 'static']);
      return /198\.18\.84\.200/.test(monitor.output());
    },
    10_000,
    100,
  );
  control = await controlPlane.start();
  await controlPlane.tabbyctl(
    ['apply', '-f', '-'],
    `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: cni-agent\nspec:\n  cidr: ${POOL_CIDR}\n  blockSize: 26\n  nodeSelector: all()\n`,
  );
  const { store, topology, nats } = controlPlane.endpoints;
  agent = await startServiceIn(
    fabric,
    nodeNs,
    'agent',
    [
      ...['--node', NODE, '--bgp-address', NODE_IP, '--listen', `${NODE_IP}:50054`, '--store', store, '--topology', topology, '--nats', nats],
      ...['--peer-allow', '198.18.0.0/15', '--status-interval', '2', '--dataplane', 'linux'],
      ...['--route-scan-interval', String(SCAN_S), '--route-cleanup-grace', String(GRACE_S)],
    ],
    { name: 'agent', env: { TABBY_NETNS_GUARD: nodeNs }, logFile: path.join(dir.path, 'agent.log') },
  );
  // The agent registers the Node (the plugin needs it) and reports its data plane.
  await eventually('the agent to report its routes', async () => (await agentRouting()).dataplane?.startsWith('linux'), 30_000, 250);
}, STEP_TIMEOUT);

// ---------------------------------------------------------------- steps

describe('tabby-cni adds the host route, tabby-agent adopts it', () => {
  it('1. containers ADDed while the agent follows at its own pace: no route ever disappears, each is adopted unchanged', async () => {
    showOnFailure();
    const made: Container[] = [];
    for (let i = 1; i <= 8; i++) {
      made.push(await addContainer(`c${i}`));
      // ADDs spread over scans, so some land right before one.
      await sleep(150);
    }
    const status = await agentKnows(made.length);
    // Two more scans: nothing changes once the agent knows them.
    await sleep(2 * SCAN_S * 1000 + 200);
    const table = await workloadRoutes();
    for (const c of made) {
      expect(table.has(wantRoute(c)), `${c.name}: ${wantRoute(c)} in ${JSON.stringify([...table])}`).toBe(true);
      expectUntouched(c);
    }
    const spared = made.filter(agentSpared).map((c) => c.name);
    console.log(`step 1: ${made.length} containers, agent status ${JSON.stringify(status)}; routes written once each, never deleted; a scan found ${spared.length} of them before the agent knew the workload (${spared.join(', ') || 'none'})`);
  }, STEP_TIMEOUT);

  it('2. containers ADDed while the agent cannot learn them (topology stopped): every route stays, sampled every 100 ms, and is adopted once learned', async () => {
    showOnFailure();
    const before = containers.size;
    const samples: Set<string>[] = [];
    const made = await withTopologyStopped(async () => {
      const out = [await addContainer('late1'), await addContainer('late2'), await addContainer('late3')];
      // Three scans with the workloads unknown; the table sampled every 100 ms.
      const end = Date.now() + 3 * SCAN_S * 1000 + 200;
      while (Date.now() < end) {
        samples.push(await workloadRoutes());
        await sleep(100);
      }
      return out;
    });
    for (const c of made) {
      expect(agentSpared(c), `${c.name}: the agent saw the route while the workload was unknown`).toBe(true);
      const missing = samples.filter((s) => !s.has(wantRoute(c))).length;
      expect(missing, `${c.name}: ${wantRoute(c)} missing in ${missing} of ${samples.length} samples`).toBe(0);
    }
    await agentKnows(before + made.length);
    await sleep(2 * SCAN_S * 1000 + 200);
    const table = await workloadRoutes();
    for (const c of made) {
      expect(table.has(wantRoute(c))).toBe(true);
      expectUntouched(c);
    }
    console.log(`step 2: ${made.length} containers unknown to the agent for ${samples.length} samples over 3 scans, routes present in all; adopted unchanged`);
  }, STEP_TIMEOUT);

  it(`3. a workload still unknown after --route-cleanup-grace (${GRACE_S} s): its route goes then, not before, and the agent puts it back once it learns it`, async () => {
    showOnFailure();
    const before = containers.size;
    let gone = 0;
    const c = await withTopologyStopped(async () => {
      const made = await addContainer('unknown1');
      const removed = await eventually(
        `the route to ${made.address} to be removed after the grace period`,
        () => eventsFor(made).find((e) => e.deleted),
        (GRACE_S + 4 * SCAN_S) * 1000,
        50,
      );
      gone = removed.at;
      return made;
    });
    // The grace period starts when the agent first sees the route, at most one scan after the ADD.
    const after = (gone - c.addedAt) / 1000;
    expect(after, `removed ${after.toFixed(1)} s after the ADD`).toBeGreaterThanOrEqual(GRACE_S - 0.5);
    expect(after).toBeLessThanOrEqual(GRACE_S + 2 * SCAN_S + 1);
    await agentKnows(before + 1);
    const table = await eventually(`the route to ${c.address} to be back`, async () => ((await workloadRoutes()).has(wantRoute(c)) ? true : undefined), 10_000, 100);
    expect(table).toBe(true);
    // Added by the plugin, removed by the agent after the grace period, added by the agent.
    expect(eventsFor(c).map((e) => e.route)).toEqual([wantRoute(c), `Deleted ${wantRoute(c)}`, wantRoute(c)]);
    console.log(`step 3: the route to the unknown workload went ${after.toFixed(1)} s after its ADD (grace ${GRACE_S} s, scan ${SCAN_S} s) and came back once the agent learned it`);
  }, STEP_TIMEOUT);

  it('4. DEL (half of them while the agent cannot learn it): the routes go with the interfaces, the agent puts none back and forgets them all', async () => {
    showOnFailure();
    const all = [...containers.values()];
    const half = Math.floor(all.length / 2);
    for (const c of all) expect((await workloadRoutes()).has(wantRoute(c)), `${c.name} routed before DEL`).toBe(true);
    for (const c of all.slice(0, half)) await deleteContainer(c);
    await withTopologyStopped(async () => {
      for (const c of all.slice(half)) await deleteContainer(c);
      // The agent still believes in these workloads: it must not route to interfaces that are gone.
      await sleep(2 * SCAN_S * 1000 + 200);
      expect([...(await workloadRoutes())]).toEqual([]);
    });
    await agentKnows(0);
    await sleep(2 * SCAN_S * 1000 + 200);
    expect([...(await workloadRoutes())], 'no /32 to a cali interface is left').toEqual([]);
    for (const c of all) {
      // (step 3 removed and re-added unknown1's route on purpose)
      if (c.name !== 'unknown1') expectUntouched(c, c.deletedAt);
      const later = eventsFor(c).filter((e) => !e.deleted && e.at >= (c.deletedAt ?? 0));
      expect(
        later.map((e) => e.line),
        `${c.name}: nothing routed to ${c.address} after its DEL`,
      ).toEqual([]);
    }
    const links = await fabric.ip(nodeNs, ['-br', 'link']);
    expect(links).not.toMatch(/cali/);
    console.log(`step 4: ${all.length} containers deleted, no route left or re-added`);
  }, STEP_TIMEOUT);

  it('5. nothing of the fabric is left', async () => {
    const pids = [agent.process.pid, control.topology.process.pid, monitor.pid];
    await cleanup();
    expect(await fabric.listOurs()).toEqual([]);
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid} is gone`).toThrow();
  }, STEP_TIMEOUT);
});
