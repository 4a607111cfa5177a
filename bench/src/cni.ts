/**
 * bench/cni: what a container runtime waits for per CNI call. N containers (default 200;
 * BENCH_CNI_CONTAINERS), each a network namespace of its own; ADD for all N, then DEL for all
 * N, first one call at a time, then P in flight (default 10; BENCH_CNI_PARALLEL). Every call is
 * a new process spawned as a runtime spawns it: CNI_* in the environment, the network config on
 * stdin, under `nsenter --net=` a node namespace the bench makes. Timed from spawn to the
 * process closing its output, per call (p50, p99, max) and per phase (wall time, calls/s).
 * - tabby-cni: packages/cni/dist/tabby-cni (Node.js script, run through its shebang) and
 *   packages/cni/dist/sea/tabby-cni (the Node single executable; a row saying it was not built
 *   when the file is missing), with TABBY_NETNS_GUARD=1, against the real tabby-store and
 *   tabby-ipam listening on the node namespace's loopback (IPPool 198.19.240.0/21, /26 blocks).
 * - the peer: the Debian reference plugins, /usr/lib/cni/bridge with host-local IPAM
 *   (198.19.248.0/22, data dir in a temporary folder, isGateway, no masquerade), in a second
 *   node namespace: what a Go plugin (two Go processes per call: bridge, then host-local) costs
 *   on this machine.
 * - the floor (FLOOR samples, default 30; BENCH_CNI_FLOOR), spawned the same way: `node -e ''`,
 *   VERSION of each plugin (process start-up), one `ip` and one `nsenter --net=… ip` process, a
 *   veth pair made and deleted as tabby-cni does (a tabby-cni ADD runs three `ip` processes, a
 *   DEL two), and WorkloadAdd/WorkloadDelete sent by this process over a warm channel; from
 *   them a rough breakdown (p50s) of a tabby-cni call made one at a time.
 * At the end it checks that every ADD succeeded with a distinct address of its range and every
 * DEL succeeded, and that nothing is left: no allocation in tabby-ipam, no WorkloadEndpoint, no
 * cali interface or route on the node, no host-local reservation. It prints the outcome and
 * exits 1 when something is broken; the figures themselves are never asserted.
 * Safety: every namespace has the harness Fabric's random `tn<hex>-` prefix, nothing links
 * them to this machine's namespace, addresses come from 198.19.240.0/20, and every process and
 * namespace is stopped by PID / deleted in `finally`, also on SIGINT/SIGTERM. Must run as root.
 * Run: npm run bench:cni -w @tabby/bench (or node bench/run.mjs cni).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { parseManifest } from '@tabby/api';
import { Fabric, REPO_ROOT, UNIX_FORWARD_SCRIPT, eventually, findTool, startServiceIn, tempDir } from '@tabby/harness';
import { IpamClient, ResourceStoreClient, type Resource } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';

function positive(name: string, fallback: number): number {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(v) || v < 1) {
    process.stderr.write(`bench/cni: ${name} must be a positive integer, got "${process.env[name]}"\n`);
    process.exit(2);
  }
  return v;
}

const CONTAINERS = positive('BENCH_CNI_CONTAINERS', 200);
const PARALLEL = positive('BENCH_CNI_PARALLEL', 10);
const FLOOR = positive('BENCH_CNI_FLOOR', 30);
const CALL_TIMEOUT_MS = 60_000;
const NODE = 'bench-cni-node';
const NETWORK = 'tabby-bench';
const POOL = 'bench-cni';
const POOL_CIDR = '198.19.240.0/21';
const BRIDGE_NETWORK = 'bench-bridge';
const BRIDGE_SUBNET = '198.19.248.0/22';
/** Only the Node resource's BGP address; configured on no interface. */
const NODE_ADDRESS = '198.19.255.1';
const CNI_DIR = '/usr/lib/cni';
const NODE_SCRIPT = path.join(REPO_ROOT, 'packages/cni/dist/tabby-cni');
const SEA = path.join(REPO_ROOT, 'packages/cni/dist/sea/tabby-cni');

// ---------------------------------------------------------------------------------------------
// Processes: every child is in `inflight` while it runs, so a signal kills it by PID.

/** A signal arrived: the bench stops at the next call and cleans up. */
class Interrupted extends Error {
  override readonly name = 'Interrupted';
}

const inflight = new Set<ChildProcess>();
let interrupted: NodeJS.Signals | undefined;

function onSignal(sig: NodeJS.Signals): void {
  if (interrupted !== undefined) {
    // Second signal: leave now; the harness's exit hooks SIGKILL its processes by PID and delete the namespaces.
    process.stderr.write(`bench/cni: ${sig} again: exiting now\n`);
    process.exit(130);
  }
  interrupted = sig;
  process.stderr.write(`\nbench/cni: ${sig}: stopping the calls in flight and cleaning up (again to exit at once)\n`);
  for (const c of inflight) c.kill('SIGKILL');
}

/** How one spawned process ended. */
interface Call {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly ms: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Spawns `argv` (no shell), writes `input` to its stdin, and times it from spawn to close. */
function timed(argv: readonly string[], env: NodeJS.ProcessEnv, input?: string): Promise<Call> {
  if (interrupted !== undefined) return Promise.reject(new Interrupted(interrupted));
  return new Promise<Call>((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0] ?? '', argv.slice(1), { env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    inflight.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    // Deliberate: a plugin may exit before reading stdin (VERSION); its exit status tells the story.
    child.stdin?.on('error', () => undefined);
    const timer = setTimeout(() => child.kill('SIGKILL'), CALL_TIMEOUT_MS);
    child.once('error', (e) => {
      clearTimeout(timer);
      inflight.delete(child);
      reject(e);
    });
    child.once('close', (code, signal) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      inflight.delete(child);
      if (interrupted !== undefined) reject(new Interrupted(interrupted));
      else resolve({ code, signal, ms, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

const failed = (c: Call): string => `${c.signal ? `signal ${c.signal}` : `exit ${String(c.code)}`}: ${(c.stdout.trim() || c.stderr.trim()).slice(0, 300)}`;

// ---------------------------------------------------------------------------------------------
// Figures.

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface Stats {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? Number.NaN };
}

/** The 1-minute load average: how busy the machine was besides this bench. */
const loadAverage = (): string => os.loadavg()[0]?.toFixed(1) ?? '-';

const ms = (v: number): string => (Number.isNaN(v) ? '-' : v < 10 ? v.toFixed(1) : v.toFixed(0));

/** Runs `n` calls with `parallel` in flight; `call(i)` makes call i. Stops everything at the first thrown error. */
async function phase<T>(label: string, n: number, parallel: number, call: (i: number) => Promise<T>): Promise<{ calls: T[]; wallMs: number }> {
  const calls: T[] = new Array<T>(n);
  let next = 0;
  let done = 0;
  let stop = false;
  const show = (): boolean => process.stderr.write(`  ${label}: ${done} / ${n}\x1b[K\r`);
  const progress = setInterval(show, 500);
  const t0 = performance.now();
  const workers = await Promise.allSettled(
    Array.from({ length: Math.min(parallel, n) }, async () => {
      while (!stop && next < n) {
        const i = next++;
        try {
          calls[i] = await call(i);
        } catch (err) {
          stop = true;
          throw err;
        }
        done++;
      }
    }),
  );
  const wallMs = performance.now() - t0;
  clearInterval(progress);
  process.stderr.write('\x1b[2K\r');
  const rejected = workers.find((w): w is PromiseRejectedResult => w.status === 'rejected');
  if (rejected) throw rejected.reason;
  return { calls, wallMs };
}

// ---------------------------------------------------------------------------------------------
// Addresses.

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

function inCidr(address: string, cidr: string): boolean {
  const [net, len] = cidr.split('/');
  const size = 2 ** (32 - Number(len));
  return Math.floor(ipv4ToInt(address) / size) === Math.floor(ipv4ToInt(net ?? '') / size);
}

/** The first address of an ADD result (`ips[0].address` without its length), or undefined. */
function resultAddress(c: Call): string | undefined {
  try {
    const r = JSON.parse(c.stdout) as { ips?: { address?: string }[] };
    return r.ips?.[0]?.address?.replace(/\/\d+$/, '');
  } catch {
    return undefined; // not a result: the caller reports the call as failed
  }
}

// ---------------------------------------------------------------------------------------------
// The bench.

function resource(text: string): Resource {
  const r = parseManifest(text);
  if (r.errors.length > 0 || !r.resources[0]) throw new Error(r.errors[0]?.message ?? 'empty manifest');
  return r.resources[0].resource;
}

/** One plugin as a runtime would be configured to run it. */
interface Plugin {
  readonly label: string;
  readonly kind: 'tabby' | 'bridge';
  /** The executable and its arguments, run under `nsenter --net=` {@link nodeNs}. */
  readonly argv: readonly string[];
  readonly nodeNs: string;
  readonly config: Readonly<Record<string, unknown>>;
  /** The addresses its ADDs must come from. */
  readonly range: string;
}

interface Row {
  readonly plugin: Plugin;
  readonly parallel: number;
  readonly add: Stats;
  readonly del: Stats;
  readonly addWallMs: number;
  readonly delWallMs: number;
}

async function main(): Promise<number> {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    process.stderr.write('bench/cni: creates network namespaces and runs CNI plugins; must run as root\n');
    return 1;
  }
  const nsenter = findTool('nsenter');
  const ipBin = findTool('ip');
  if (!nsenter || !ipBin) {
    process.stderr.write('bench/cni: needs nsenter (util-linux) and ip (iproute2)\n');
    return 1;
  }
  if (!existsSync(NODE_SCRIPT)) {
    process.stderr.write(`bench/cni: ${NODE_SCRIPT} is not built; run \`npm run build\` in the repository root first\n`);
    return 1;
  }
  const shebangNode = findTool('node') ?? process.execPath;
  const bridgeBin = path.join(CNI_DIR, 'bridge');
  const haveBridge = existsSync(bridgeBin) && existsSync(path.join(CNI_DIR, 'host-local'));

  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => {
    for (const c of inflight) c.kill('SIGKILL');
  });

  console.log(
    `bench/cni: ${CONTAINERS} containers (a network namespace each), ADD for all then DEL for all, one call at a time and ${PARALLEL} in flight; ` +
      `a process per call under \`nsenter --net=<node namespace>\`, CNI_* in its environment, the config on stdin, timed spawn to exit ` +
      `(${os.cpus().length} CPUs, ${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, Linux ${os.release()}, ${shebangNode} ${process.version}; load average ${loadAverage()})`,
  );

  const fabric = new Fabric();
  const dir = tempDir('tabby-bench-cni-');
  const problems: string[] = [];
  const rows: Row[] = [];
  const notes: string[] = [];
  const floors: { label: string; s: Stats }[] = [];
  const rpc = { add: [] as number[], del: [] as number[] };
  let storeClient: ResourceStoreClient | undefined;
  let ipamClient: IpamClient | undefined;
  let outcome = 0;
  try {
    // The node (tabby-store, tabby-ipam, our plugin), the peer's node, the containers.
    const node = await fabric.addNamespace('node');
    const peer = await fabric.addNamespace('peer');
    const t0 = performance.now();
    const containers = (await phase('making container namespaces', CONTAINERS, PARALLEL, (i) => fabric.addNamespace(`c-${i}`))).calls;
    const nsMs = performance.now() - t0;
    const netnsPath = (ns: string): string => `/run/netns/${ns}`;

    const quiet = ['--rpc-log', 'debug'];
    const store = await startServiceIn(fabric, node, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`, ...quiet]);
    const ipam = await startServiceIn(fabric, node, 'ipam', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/ipam`, '--store', store.address, ...quiet]);
    const forwarder = fabric.start(node, 'unix-forward', process.execPath, [UNIX_FORWARD_SCRIPT, `${dir.path}/store.sock`, String(store.port), `${dir.path}/ipam.sock`, String(ipam.port)]);
    await forwarder.waitForLine(/ipam\.sock/, 10_000);
    const sc = new ResourceStoreClient(`unix:${dir.path}/store.sock`, credentials.createInsecure());
    const ic = new IpamClient(`unix:${dir.path}/ipam.sock`, credentials.createInsecure());
    storeClient = sc;
    ipamClient = ic;
    await callUnary(sc.create.bind(sc), { resource: resource(`apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${NODE}\nspec:\n  bgp:\n    ipv4Address: ${NODE_ADDRESS}/32\n`) }, { timeoutMs: 10_000 });
    await callUnary(sc.create.bind(sc), { resource: resource(`apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${POOL}\nspec:\n  cidr: ${POOL_CIDR}\n  blockSize: 26\n  nodeSelector: all()\n`) }, { timeoutMs: 10_000 });
    await eventually('tabby-ipam to see the pool', async () => (await callUnary(ic.utilization.bind(ic), { includeBlocks: false }, { timeoutMs: 5000 })).pools.some((p) => p.name === POOL), 15_000, 100);
    const inUse = async (): Promise<number> => Number((await callUnary(ic.utilization.bind(ic), { includeBlocks: false }, { timeoutMs: 10_000 })).pools.find((p) => p.name === POOL)?.inUse ?? -1);
    const endpointCount = async (): Promise<number> => (await callUnary(sc.list.bind(sc), { kind: 'WorkloadEndpoint', namespace: '', labelSelector: '' }, { timeoutMs: 10_000 })).items.length;
    const links = async (ns: string): Promise<{ ifname: string; master?: string }[]> => JSON.parse(await fabric.ip(ns, ['-j', 'link', 'show'])) as { ifname: string; master?: string }[];
    console.log(`  setup: ${CONTAINERS} container namespaces in ${(nsMs / 1000).toFixed(1)} s; tabby-store and tabby-ipam in ${node} on its 127.0.0.1; IPPool ${POOL_CIDR} (/26 blocks)`);

    const tabbyConfig = { cniVersion: '1.0.0', name: NETWORK, type: 'tabby-cni', nodename: NODE, ipam: { ipv4_pools: [POOL] }, tabby: { store: store.address, ipam: ipam.address } };
    const plugins: Plugin[] = [{ label: 'tabby-cni, Node script', kind: 'tabby', argv: [NODE_SCRIPT], nodeNs: node, config: tabbyConfig, range: POOL_CIDR }];
    if (existsSync(SEA)) plugins.push({ label: 'tabby-cni, single executable', kind: 'tabby', argv: [SEA], nodeNs: node, config: tabbyConfig, range: POOL_CIDR });
    else notes.push(`tabby-cni, single executable: ${path.relative(REPO_ROOT, SEA)} was not built; its rows are skipped`);
    if (haveBridge) {
      plugins.push({
        label: 'bridge + host-local (Go)',
        kind: 'bridge',
        argv: [bridgeBin],
        nodeNs: peer,
        config: {
          cniVersion: '1.0.0',
          name: BRIDGE_NETWORK,
          type: 'bridge',
          bridge: 'cni-bench',
          isGateway: true,
          ipMasq: false,
          ipam: { type: 'host-local', ranges: [[{ subnet: BRIDGE_SUBNET }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: `${dir.path}/host-local` },
        },
        range: BRIDGE_SUBNET,
      });
    } else {
      notes.push(`bridge + host-local: ${CNI_DIR}/bridge or host-local is not installed (apt-get install containernetworking-plugins); its rows are skipped`);
    }

    const env = (command: string, id: string, netns: string): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH,
      TABBY_NETNS_GUARD: '1',
      CNI_COMMAND: command,
      CNI_CONTAINERID: id,
      CNI_NETNS: netns,
      CNI_IFNAME: 'eth0',
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${id}`,
      CNI_PATH: CNI_DIR,
    });
    const cni = (p: Plugin, command: 'ADD' | 'DEL' | 'VERSION', id: string, netns: string): Promise<Call> =>
      timed([nsenter, `--net=${netnsPath(p.nodeNs)}`, ...p.argv], env(command, id, netns), JSON.stringify(command === 'VERSION' ? { cniVersion: '1.0.0' } : p.config));

    // The floor first (it also warms the page cache for the rows).
    const floor = async (label: string, make: () => Promise<Call>): Promise<Stats> => {
      const r = await phase(`floor: ${label}`, FLOOR, 1, () => make());
      const bad = r.calls.filter((c) => c.code !== 0);
      if (bad[0]) problems.push(`floor ${label}: ${bad.length} of ${FLOOR} failed (${failed(bad[0])})`);
      const s = stats(r.calls.map((c) => c.ms));
      floors.push({ label, s });
      return s;
    };
    const inNode = [nsenter, `--net=${netnsPath(node)}`];
    const c0 = netnsPath(containers[0] ?? '');
    await floor(`node -e '' (${shebangNode})`, () => timed([...inNode, shebangNode, '-e', ''], { PATH: process.env.PATH }));
    const startup = new Map<Plugin, number>();
    for (const p of plugins) startup.set(p, (await floor(`${p.label}: VERSION`, () => cni(p, 'VERSION', '', ''))).p50);
    const ipOne = (await floor('one `ip` (ip -j link show dev lo, in the node)', () => timed([...inNode, ipBin, '-j', 'link', 'show', 'dev', 'lo'], { PATH: process.env.PATH }))).p50;
    const ipNsenter = (await floor('one `nsenter --net=<container> ip -j link show dev lo`', () => timed([nsenter, `--net=${c0}`, ipBin, '-j', 'link', 'show', 'dev', 'lo'], { PATH: process.env.PATH }))).p50;
    // A veth pair as tabby-cni makes one (node side in the node, peer made in a container), and its removal from the container side.
    let veth = 0;
    const vethAdd = (await floor('`ip link add … type veth peer … netns <container>`, in the node', () => timed([...inNode, ipBin, 'link', 'add', `bv${veth}`, 'type', 'veth', 'peer', 'name', `bvp${veth++}`, 'netns', c0], { PATH: process.env.PATH }))).p50;
    veth = 0;
    const vethDel = (await floor('`nsenter --net=<container> ip link del` of that veth', () => timed([nsenter, `--net=${c0}`, ipBin, 'link', 'del', `bvp${veth++}`], { PATH: process.env.PATH }))).p50;

    // tabby-ipam's part, asked directly: the WorkloadAdd / WorkloadDelete a tabby-cni call sends, over a warm channel.
    const rpcRequest = (i: number): { namespace: string; name: string; handle: string; containerId: string; endpoint: string } => ({ namespace: 'default', name: `rpc-${i}`, handle: `${NETWORK}.rpc-${i}`, containerId: `rpc-${i}`, endpoint: 'eth0' });
    for (let i = -1; i < FLOOR; i++) {
      if (interrupted !== undefined) throw new Interrupted(interrupted);
      const r = rpcRequest(i + 1);
      let t = performance.now();
      await callUnary(ic.workloadAdd.bind(ic), { ...r, node: NODE, labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [POOL], ipv6Pools: [], ipAddrs: [], namespaceLabels: {}, orchestrator: 'k8s', mac: '0a:58:00:00:00:01' }, { timeoutMs: 15_000 });
      if (i >= 0) rpc.add.push(performance.now() - t);
      t = performance.now();
      await callUnary(ic.workloadDelete.bind(ic), r, { timeoutMs: 15_000 });
      if (i >= 0) rpc.del.push(performance.now() - t);
    }
    if ((await inUse()) !== 0) problems.push('tabby-ipam holds addresses after the WorkloadAdd/WorkloadDelete floor');

    // The rows.
    for (const p of plugins) {
      for (const parallel of [1, PARALLEL]) {
        const label = `${p.label}, ${parallel} in flight`;
        const tag = `${p.kind === 'tabby' ? (p.argv[0] === SEA ? 'sea' : 'js') : 'br'}${parallel}`;
        const ids = containers.map((_, i) => `bench-${tag}-${i}`);
        const add = await phase(`${label}: ADD`, CONTAINERS, parallel, (i) => cni(p, 'ADD', ids[i] ?? '', netnsPath(containers[i] ?? '')));
        const addBad = add.calls.filter((c) => c.code !== 0 || resultAddress(c) === undefined);
        if (addBad[0]) problems.push(`${label}: ${addBad.length} of ${CONTAINERS} ADDs failed (first: ${failed(addBad[0])})`);
        const addresses = add.calls.map(resultAddress).filter((a): a is string => a !== undefined);
        const outside = addresses.filter((a) => !inCidr(a, p.range));
        if (outside.length > 0) problems.push(`${label}: ${outside.length} addresses outside ${p.range} (${outside[0]})`);
        if (new Set(addresses).size !== addresses.length) problems.push(`${label}: ${addresses.length - new Set(addresses).size} addresses handed out twice`);
        if (p.kind === 'tabby') {
          const [held, eps, calis] = [await inUse(), await endpointCount(), (await links(node)).filter((l) => l.ifname.startsWith('cali')).length];
          if (held !== addresses.length || eps !== addresses.length || calis !== addresses.length) {
            problems.push(`${label}: after ${addresses.length} good ADDs tabby-ipam holds ${held} addresses, the store ${eps} WorkloadEndpoints, the node ${calis} cali interfaces`);
          }
        }

        const del = await phase(`${label}: DEL`, CONTAINERS, parallel, (i) => cni(p, 'DEL', ids[i] ?? '', netnsPath(containers[i] ?? '')));
        const delBad = del.calls.filter((c) => c.code !== 0);
        if (delBad[0]) problems.push(`${label}: ${delBad.length} of ${CONTAINERS} DELs failed (first: ${failed(delBad[0])})`);
        if (p.kind === 'tabby') {
          const held = await inUse();
          const eps = await endpointCount();
          const calis = (await links(node)).filter((l) => l.ifname.startsWith('cali')).length;
          const routes = (await fabric.routes(node, { proto: 84 })).length;
          if (held !== 0 || eps !== 0 || calis !== 0 || routes !== 0) problems.push(`${label}: after every DEL tabby-ipam still holds ${held} addresses, the store ${eps} WorkloadEndpoints, the node ${calis} cali interfaces and ${routes} routes of proto 84`);
        } else {
          const hostLocal = path.join(dir.path, 'host-local', BRIDGE_NETWORK);
          const reserved = existsSync(hostLocal) ? readdirSync(hostLocal).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).length : 0;
          const ports = (await links(peer)).filter((l) => l.master === 'cni-bench').length;
          if (reserved !== 0 || ports !== 0) problems.push(`${label}: after every DEL host-local still reserves ${reserved} addresses and the bridge has ${ports} ports`);
        }
        // A container a DEL could not clean goes back to empty, so the next row starts from the same state.
        for (const [i, c] of del.calls.entries()) if (c.code !== 0) await fabric.ip(containers[i] ?? '', ['link', 'del', 'eth0'], { allowFailure: true });

        rows.push({ plugin: p, parallel, add: stats(add.calls.map((c) => c.ms)), del: stats(del.calls.map((c) => c.ms)), addWallMs: add.wallMs, delWallMs: del.wallMs });
        process.stderr.write(`  ${label}: ADD ${(add.wallMs / 1000).toFixed(1)} s, DEL ${(del.wallMs / 1000).toFixed(1)} s\x1b[K\n`);
      }
    }

    // The tables.
    const head = `  ${'plugin'.padEnd(31)}${'flight'.padStart(6)} |${'p50'.padStart(7)}${'p99'.padStart(7)}${'max'.padStart(7)}${'total'.padStart(8)}${'/s'.padStart(6)} |${'p50'.padStart(7)}${'p99'.padStart(7)}${'max'.padStart(7)}${'total'.padStart(8)}${'/s'.padStart(6)}`;
    const cells = (s: Stats, wall: number): string => `${ms(s.p50).padStart(7)}${ms(s.p99).padStart(7)}${ms(s.max).padStart(7)}${`${(wall / 1000).toFixed(1)} s`.padStart(8)}${((CONTAINERS * 1000) / wall).toFixed(0).padStart(6)}`;
    console.log(`\n  ${''.padEnd(37)} | ADD (ms; total for all ${CONTAINERS})${''.padEnd(4)} | DEL (ms; total for all ${CONTAINERS})`);
    console.log(head);
    for (const r of rows) console.log(`  ${r.plugin.label.padEnd(31)}${String(r.parallel).padStart(6)} |${cells(r.add, r.addWallMs)} |${cells(r.del, r.delWallMs)}`);
    for (const n of notes) console.log(`  ${n}`);
    console.log(`  load average now ${loadAverage()} (this bench's own ${PARALLEL}-in-flight phases count in it; a high one in the first line means other work, which slows those CPU-bound rows most)`);

    console.log(`\n  floor: spawn to exit under \`nsenter --net=<node>\`, ${FLOOR} calls one at a time    p50    p99    max (ms)`);
    for (const f of floors) console.log(`  ${f.label.padEnd(74)}${ms(f.s.p50).padStart(7)}${ms(f.s.p99).padStart(7)}${ms(f.s.max).padStart(7)}`);
    const ra = stats(rpc.add);
    const rd = stats(rpc.del);
    console.log(`  ${'tabby-ipam WorkloadAdd, from this process (warm channel; SQLite commit + endpoint write)'.padEnd(74)}${ms(ra.p50).padStart(7)}${ms(ra.p99).padStart(7)}${ms(ra.max).padStart(7)}`);
    console.log(`  ${'tabby-ipam WorkloadDelete, the same'.padEnd(74)}${ms(rd.p50).padStart(7)}${ms(rd.p99).padStart(7)}${ms(rd.max).padStart(7)}`);

    const tabbyRows = rows.filter((r) => r.plugin.kind === 'tabby' && r.parallel === 1);
    if (tabbyRows.length > 0) {
      console.log('\n  breakdown of a tabby-cni call, one at a time (p50s, so roughly):');
      for (const r of tabbyRows) {
        const up = startup.get(r.plugin) ?? Number.NaN;
        // ADD: `nsenter ip link show`, the host `ip -batch` (veth pair, up, route), `nsenter ip -batch` (address, routes, neighbour).
        const addIp = ipNsenter + Math.max(ipOne, vethAdd) + ipNsenter;
        // DEL: `nsenter ip link show`, `nsenter ip link del`.
        const delIp = ipNsenter + Math.max(ipNsenter, vethDel);
        // Under load the parts can add up to more than the whole: the rest is then not known.
        const rest = (v: number): string => (v < 0 ? '? (the parts exceed the whole: a noisy run)' : ms(v));
        console.log(
          `  ${r.plugin.label}: ADD ${ms(r.add.p50)} = start-up ${ms(up)} + WorkloadAdd ${ms(ra.p50)} + 3 ip processes ${ms(addIp)} + the rest ${rest(r.add.p50 - up - ra.p50 - addIp)}; ` +
            `DEL ${ms(r.del.p50)} = start-up ${ms(up)} + WorkloadDelete ${ms(rd.p50)} + 2 ip processes ${ms(delIp)} + the rest ${rest(r.del.p50 - up - rd.p50 - delIp)}`,
        );
      }
      console.log('  (start-up: the VERSION call; the ip processes: an ADD runs `nsenter ip link show`, a host `ip -batch` making the veth pair, `nsenter ip -batch`;');
      console.log('   a DEL `nsenter ip link show` and `nsenter ip link del`, priced from the floor rows; the rest: opening the gRPC channel, sysctl writes, the plugin\'s own code)');
    }
  } catch (err) {
    if (err instanceof Interrupted) outcome = 130;
    else throw err;
  } finally {
    storeClient?.close();
    ipamClient?.close();
    try {
      await fabric.cleanup();
    } catch (err) {
      problems.push(`cleanup: ${err instanceof Error ? err.message : String(err)}`);
    }
    dir.remove();
  }
  if (outcome !== 0) {
    process.stderr.write(`bench/cni: interrupted by ${interrupted ?? 'a signal'}; every process stopped and every namespace deleted${problems.length > 0 ? `, but: ${problems.join('; ')}` : ''}\n`);
    return outcome;
  }
  if (problems.length === 0) {
    console.log(`\n  verify: OK: every ADD succeeded with a distinct address of its range, every DEL succeeded, and nothing was left (tabby-ipam: 0 allocations, 0 WorkloadEndpoints, no cali interface or proto 84 route; host-local: 0 reservations); namespaces deleted`);
    return 0;
  }
  console.log(`\n  verify: BROKEN:\n${problems.map((p) => `    - ${p}`).join('\n')}`);
  return 1;
}

process.exit(await main());
