import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BirdProcess, launchBird } from './bird.js';
import { collectCommand, type CommandResult } from './collect.js';
import { gobgpTtlSecurityLines } from './gobgp-config.js';
import { GobgpProcess, GobgpCommandError, checkGobgpConfig } from './gobgp.js';
import type { NatsServer } from './nats.js';
import { resumeBeforeStop } from './process-pause.js';
import { ProcessGroup, eventually, startProcess, type TestProcess } from './processes.js';
import { serviceBin, type ServiceProcess } from './services.js';
import { requireTool } from './tools.js';

/**
 * The unix-socket -> TCP forwarder program (unix-forward.ts): run it with `node` inside a
 * namespace of the fabric to reach services on that namespace's loopback from this one.
 */
export const UNIX_FORWARD_SCRIPT = fileURLToPath(new URL('./unix-forward.js', import.meta.url));

/**
 * A fabric of network namespaces for end-to-end network tests: a bridge in one namespace,
 * nodes, peers and workloads in others, each joined by veth pairs, and the processes that
 * run inside them — all removed again by {@link Fabric.cleanup}.
 *
 * Safety, enforced here rather than left to each test:
 * - nothing is configured in this machine's own namespace: every `ip` call names one of the
 *   fabric's namespaces (`ip -n NS …`, `ip netns exec NS …`), and a veth pair is created in
 *   one fabric namespace with its peer created directly in another, so no end ever sits in
 *   the root namespace and nothing links the fabric to it;
 * - addresses come from 198.18.0.0/15 (RFC 2544 benchmarking space) and 2001:db8::/32 (RFC 3849
 *   documentation space) only; the one exception is the IPv6 link-local address the kernel
 *   gives a workload's host-side interface itself (fe80::ecee:eeff:feee:eeee, from its MAC);
 * - namespaces carry a random prefix (`tn` + 6 hex digits) so concurrent runs never collide,
 *   and only names with this fabric's prefix are ever created or deleted;
 * - processes are stopped by PID (a {@link ProcessGroup}), then the namespaces are deleted,
 *   also when a test fails; an exit hook deletes what is left if the runner dies first.
 */

/** The only IPv4 addresses a fabric may configure: 198.18.0.0/15. */
export const FABRIC_RANGE = '198.18.0.0/15';
/** The only IPv6 addresses a fabric may configure: 2001:db8::/32 (documentation, never routed). */
export const FABRIC_RANGE_V6 = '2001:db8::/32';

const fabricV6 = new BlockList();
fabricV6.addSubnet('2001:db8::', 32, 'ipv6');

function ipv4ToInt(address: string): number {
  return address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/**
 * True when `address` (optionally `/len`) lies inside {@link FABRIC_RANGE} (IPv4) or
 * {@link FABRIC_RANGE_V6} (IPv6); `family` admits one of the two only.
 */
export function inFabricRange(address: string, family?: 4 | 6): boolean {
  const [ip, len] = address.split('/');
  const lenOk = (min: number, max: number): boolean => len === undefined || (/^\d+$/.test(len) && Number(len) >= min && Number(len) <= max);
  if (isIPv4(ip) && family !== 6) return lenOk(15, 32) && Math.floor(ipv4ToInt(ip) / 2 ** 17) === Math.floor(ipv4ToInt('198.18.0.0') / 2 ** 17);
  if (isIPv6(ip) && family !== 4) return lenOk(32, 128) && fabricV6.check(ip, 'ipv6');
  return false;
}

/** Throws unless `address` is inside the fabric's range of `family` (either when not given). */
export function assertFabricAddress(address: string, what: string, family?: 4 | 6): void {
  if (inFabricRange(address, family)) return;
  const ranges = family === 4 ? FABRIC_RANGE : family === 6 ? FABRIC_RANGE_V6 : `${FABRIC_RANGE} or ${FABRIC_RANGE_V6}`;
  throw new Error(`${what} must be inside ${ranges} (never an address this machine may use), got "${address}"`);
}

/**
 * The gateway of a workload's IPv6 default route, as Calico's CNI plugin sets it: the
 * link-local address the kernel derives (EUI-64) from the host side's MAC ee:ee:ee:ee:ee:ee.
 */
export const WORKLOAD_GATEWAY_V6 = 'fe80::ecee:eeff:feee:eeee';

/** A command run inside a fabric namespace exited non-zero (or timed out). */
export class NetnsCommandError extends Error {
  override readonly name = 'NetnsCommandError';
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`${argv.join(' ')} failed (${code === null ? 'timed out or killed' : `exit ${code}`}): ${(stderr || stdout).trim()}`);
  }
}

/** Output of a command run with {@link Fabric.exec}. */
/** One route of `ip -j route show`, with `dst` always written as a prefix (`/32` added). */
export interface KernelRoute {
  /** `unicast`, `blackhole`, `unreachable`, `prohibit`, … (`unicast` when ip prints none). */
  readonly type: string;
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly scope?: string;
  readonly protocol?: string;
  readonly metric?: number;
  readonly table?: string;
  readonly flags: readonly string[];
  /** Multipath next hops (`nexthop via A nexthop via B`), as `via A dev D` texts. */
  readonly nexthops: readonly string[];
  /** The route as one canonical line, e.g. `blackhole 198.19.0.0/26`, `198.19.0.64/26 via 198.18.0.12 dev eth0`. */
  readonly text: string;
}

interface RawRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  scope?: string;
  protocol?: string;
  metric?: number;
  table?: string;
  flags?: string[];
  nexthops?: { gateway?: string; dev?: string }[];
}

/** Parses `ip -j route show …` output. */
export function parseKernelRoutes(json: string): KernelRoute[] {
  const raw = (json.trim() === '' ? [] : JSON.parse(json)) as RawRoute[];
  return raw.map((r) => {
    const dst = r.dst === 'default' || r.dst.includes('/') ? r.dst : `${r.dst}/${r.dst.includes(':') ? 128 : 32}`;
    const type = r.type ?? 'unicast';
    const nexthops = (r.nexthops ?? []).map((n) => [n.gateway ? `via ${n.gateway}` : '', n.dev ? `dev ${n.dev}` : ''].filter(Boolean).join(' '));
    const flags = r.flags ?? [];
    const parts = [type === 'unicast' ? '' : type, dst];
    if (r.gateway) parts.push(`via ${r.gateway}`);
    if (r.dev) parts.push(`dev ${r.dev}`);
    for (const n of nexthops) parts.push(`nexthop ${n}`);
    if (r.scope && r.scope !== 'global' && !(type !== 'unicast' && r.scope === 'universe')) parts.push(`scope ${r.scope}`);
    if (r.metric) parts.push(`metric ${r.metric}`);
    if (r.protocol) parts.push(`proto ${r.protocol}`);
    if (r.table && r.table !== 'main') parts.push(`table ${r.table}`);
    for (const f of flags) parts.push(f);
    return {
      type,
      dst,
      gateway: r.gateway,
      dev: r.dev,
      scope: r.scope,
      protocol: r.protocol,
      metric: r.metric,
      table: r.table,
      flags,
      nexthops,
      text: parts.filter(Boolean).join(' '),
    };
  });
}

/** One end of a {@link Fabric.connectDirect} link. */
export interface DirectLinkEnd {
  readonly ns: string;
  readonly ifname: string;
  /** `A.B.C.D/len`, inside 198.18.0.0/15. */
  readonly address: string;
  /** `2001:db8:…/len`, inside 2001:db8::/32 (added `nodad`). */
  readonly ipv6Address?: string;
}

/** What `busybox ping` reported. */
export interface PingResult {
  readonly transmitted: number;
  readonly received: number;
  readonly lost: number;
  /** Sequence numbers (0-based, as busybox prints them) that got no reply, of those sent. */
  readonly missingSeqs: readonly number[];
  readonly output: string;
}

/** Parses busybox ping output (`N packets transmitted, M packets received`, `seq=K` reply lines). */
export function parsePing(output: string): PingResult {
  const m = /(\d+) packets transmitted, (\d+) packets received/.exec(output);
  const seen = new Set([...output.matchAll(/ seq=(\d+) /g)].map((x) => Number(x[1])));
  const transmitted = m ? Number(m[1]) : Math.max(-1, ...seen) + 1;
  const received = m ? Number(m[2]) : seen.size;
  const missingSeqs: number[] = [];
  for (let i = 0; i < transmitted; i++) if (!seen.has(i)) missingSeqs.push(i);
  return { transmitted, received, lost: transmitted - received, missingSeqs, output };
}

/** A `busybox ping` running in the background (see {@link Fabric.startPing}). */
export interface PingStream {
  readonly process: TestProcess;
  /** Replies so far. */
  replies(): number;
  /** SIGINT (busybox then prints its statistics); resolves with the result. */
  stop(): Promise<PingResult>;
}

/** How a workload namespace was wired by {@link Fabric.wireWorkload}. */
export interface WorkloadWiring {
  /** The workload's namespace. */
  readonly namespace: string;
  /** The node namespace holding the host side. */
  readonly nodeNamespace: string;
  /** Host-side interface name (`cali…`). */
  readonly interfaceName: string;
  /** The workload's IPv4 address (no prefix length). */
  readonly address: string;
  /** Its IPv6 address (no prefix length), when it has one. */
  readonly ipv6Address?: string;
}

/** busybox ping's `-6` for an IPv6 address (it would find out itself; said for the log). */
function familyFlag(address: string): string[] {
  return isIPv6(address) ? ['-6'] : [];
}

const PREFIX = /^tn[0-9a-f]{6}$/;
/** Every fabric alive in this process, for the exit hook. */
const liveFabrics = new Set<Fabric>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if the runner exits without cleanup (its processes are SIGKILLed by the
  // ProcessGroup's own hook): delete the namespace names, which frees the veths and bridges.
  process.on('exit', () => {
    for (const f of liveFabrics) f.deleteNamespacesSync();
  });
}

/**
 * A set of network namespaces named `<prefix>-<short>` and the processes running in them.
 * Register `cleanup()` (in afterAll) before building anything.
 */
export class Fabric {
  /** `tn` + 6 hex digits. */
  readonly prefix: string;
  /** Processes started in the fabric; stopped by PID in {@link cleanup}, before the namespaces go. */
  readonly group = new ProcessGroup();
  private readonly created: string[] = [];
  private readonly running = new Set<ChildProcess>();
  private readonly ipBin = requireTool('ip', 'iproute2');

  constructor(opts: { prefix?: string } = {}) {
    this.prefix = opts.prefix ?? `tn${randomBytes(3).toString('hex')}`;
    if (!PREFIX.test(this.prefix)) throw new Error(`fabric prefix must be tn + 6 hex digits, got "${this.prefix}"`);
    installExitHook();
    liveFabrics.add(this);
  }

  /** The full name of the fabric namespace `short` (`tn1a2b3c-node1`). */
  ns(short: string): string {
    if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(short)) throw new Error(`namespace short name must be lower-case letters, digits and -, got "${short}"`);
    return `${this.prefix}-${short}`;
  }

  /** The namespaces created so far, in creation order. */
  get namespaces(): readonly string[] {
    return [...this.created];
  }

  private assertOurs(ns: string): void {
    if (!this.created.includes(ns)) throw new Error(`"${ns}" is not a namespace of fabric ${this.prefix}: the fabric configures nothing outside its own namespaces`);
  }

  /** Runs a program (no shell); resolves with its output, rejects with NetnsCommandError on a non-zero exit unless `allowFailure`. */
  private run(argv: readonly string[], opts: { input?: string; timeoutMs?: number; allowFailure?: boolean } = {}): Promise<CommandResult> {
    return collectCommand(argv[0], argv.slice(1), {
      ...opts,
      timeoutMs: opts.timeoutMs ?? 30_000,
      tracked: this.running,
      failure: (r) => new NetnsCommandError(argv, r.code, r.stdout, r.stderr),
    });
  }

  /** Creates namespace `short` (with `lo` up); resolves with its full name. */
  async addNamespace(short: string): Promise<string> {
    const ns = this.ns(short);
    if (this.created.includes(ns)) throw new Error(`namespace ${ns} exists already`);
    // Recorded before it exists, so a failure half-way is still cleaned up.
    this.created.push(ns);
    await this.run([this.ipBin, 'netns', 'add', ns]);
    await this.ip(ns, ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** `ip -n NS ARGS…`; resolves with stdout. */
  async ip(ns: string, args: readonly string[], opts: { allowFailure?: boolean } = {}): Promise<string> {
    this.assertOurs(ns);
    return (await this.run([this.ipBin, '-n', ns, ...args], opts)).stdout;
  }

  /** Several `ip` commands in NS through one `ip -n NS -batch -` (stops at the first failure). */
  async ipBatch(ns: string, commands: readonly (readonly string[])[]): Promise<string> {
    this.assertOurs(ns);
    for (const c of commands) {
      const bad = c.find((a) => !/^[^\s"'\\#]+$/.test(a));
      if (bad !== undefined) throw new Error(`ip -batch argument ${JSON.stringify(bad)} would need quoting`);
    }
    return (await this.run([this.ipBin, '-n', ns, '-batch', '-'], { input: `${commands.map((c) => c.join(' ')).join('\n')}\n` })).stdout;
  }

  /** `ip netns exec NS COMMAND ARGS…` (no shell). */
  async exec(ns: string, command: string, args: readonly string[], opts: { input?: string; timeoutMs?: number; allowFailure?: boolean } = {}): Promise<CommandResult> {
    this.assertOurs(ns);
    return this.run([this.ipBin, 'netns', 'exec', ns, command, ...args], opts);
  }

  /** `busybox sysctl -w K=V…` inside NS (net.* keys are per namespace; busybox spares a procps dependency). */
  async sysctl(ns: string, settings: Readonly<Record<string, string | number>>): Promise<void> {
    const pairs = Object.entries(settings).map(([k, v]) => {
      if (!k.startsWith('net.')) throw new Error(`only net.* sysctls are per namespace, got ${k}`);
      return `${k}=${v}`;
    });
    await this.exec(ns, requireTool('busybox', 'busybox-static'), ['sysctl', '-q', '-w', ...pairs]);
  }

  /** A bridge `name` in NS with `address` (`A.B.C.D/len`, inside the fabric range), up. */
  async addBridge(ns: string, name: string, address: string): Promise<void> {
    assertFabricAddress(address, `bridge ${name}'s address`);
    await this.ipBatch(ns, [
      ['link', 'add', 'name', name, 'type', 'bridge'],
      ['addr', 'add', address, 'dev', name],
      ['link', 'set', name, 'up'],
    ]);
  }

  /**
   * Joins namespace `ns` to `bridge` in `bridgeNs`: a veth pair created in `bridgeNs` (port
   * `port`, enslaved to the bridge) whose peer is created directly in `ns` as `ifname` with
   * `address` (`A.B.C.D/len`) and, when given, `ipv6Address` (`2001:db8:…/len`, added
   * `nodad`: usable at once, no duplicate address detection). Both ends are up.
   */
  async connectToBridge(bridgeNs: string, bridge: string, ns: string, opts: { port: string; address: string; ipv6Address?: string; ifname?: string }): Promise<void> {
    this.assertOurs(ns);
    assertFabricAddress(opts.address, `${ns}'s address`, 4);
    if (opts.ipv6Address !== undefined) assertFabricAddress(opts.ipv6Address, `${ns}'s IPv6 address`, 6);
    const ifname = opts.ifname ?? 'eth0';
    await this.ipBatch(bridgeNs, [
      ['link', 'add', 'name', opts.port, 'type', 'veth', 'peer', 'name', ifname, 'netns', ns],
      ['link', 'set', opts.port, 'master', bridge, 'up'],
    ]);
    await this.ipBatch(ns, [
      ['addr', 'add', opts.address, 'dev', ifname],
      ...(opts.ipv6Address === undefined ? [] : [['addr', 'add', opts.ipv6Address, 'dev', ifname, 'nodad']]),
      ['link', 'set', ifname, 'up'],
    ]);
  }

  /**
   * A point-to-point link between two namespaces of the fabric: a veth pair created in `a.ns`
   * as `a.ifname`, its peer in `b.ns` as `b.ifname`, each end with its `address`
   * (`A.B.C.D/len`, inside the fabric range) and, when given, its `ipv6Address`
   * (`2001:db8:…/len`, added `nodad`: usable at once), and up. For routed topologies (a router
   * namespace between two others) where a bridge would make everything one hop.
   */
  async connectDirect(a: DirectLinkEnd, b: DirectLinkEnd): Promise<void> {
    this.assertOurs(a.ns);
    this.assertOurs(b.ns);
    for (const end of [a, b]) {
      assertFabricAddress(end.address, `${end.ns}'s address`, 4);
      if (end.ipv6Address !== undefined) assertFabricAddress(end.ipv6Address, `${end.ns}'s IPv6 address`, 6);
    }
    const v6 = (end: DirectLinkEnd): string[][] => (end.ipv6Address === undefined ? [] : [['addr', 'add', end.ipv6Address, 'dev', end.ifname, 'nodad']]);
    await this.ipBatch(a.ns, [
      ['link', 'add', 'name', a.ifname, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.ns],
      ['addr', 'add', a.address, 'dev', a.ifname],
      ...v6(a),
      ['link', 'set', a.ifname, 'up'],
    ]);
    await this.ipBatch(b.ns, [
      ['addr', 'add', b.address, 'dev', b.ifname],
      ...v6(b),
      ['link', 'set', b.ifname, 'up'],
    ]);
  }

  /**
   * Wires a workload as Calico's CNI plugin does (reference: docs/calico-compat.md, host-side
   * wiring): a new namespace `short` with `eth0` holding `address/32`, a link route to
   * 169.254.1.1 and the default route via it; the veth's host side `interfaceName` in `nodeNs`,
   * up, no address, MAC ee:ee:ee:ee:ee:ee, proxy_arp=1, proxy_delay=0, forwarding=1. The route
   * `address dev interfaceName` is NOT added: that is the node agent's job.
   *
   * With `ipv6Address` the workload is dual-stack: `eth0` also holds `ipv6Address/128` and
   * the IPv6 default route goes via {@link WORKLOAD_GATEWAY_V6} on eth0. The host side
   * answers the neighbour solicitations for that gateway because the address is its own:
   * the link-local address the kernel derives from the MAC ee:ee:ee:ee:ee:ee (the address
   * Calico's gateway is, too; Calico also turns on proxy NDP, which is not needed for it).
   * Duplicate address detection is off on both ends (accept_dad=0), so every address is
   * usable at once; resolves once the host side has the gateway address. The node must
   * forward IPv6 (`net.ipv6.conf.all.forwarding=1`, the caller's choice).
   */
  async wireWorkload(nodeNs: string, short: string, interfaceName: string, address: string, opts: { ipv6Address?: string } = {}): Promise<WorkloadWiring> {
    this.assertOurs(nodeNs);
    if (!/^[a-z0-9]{1,15}$/.test(interfaceName)) throw new Error(`interface name must be 1-15 lower-case letters and digits, got "${interfaceName}"`);
    assertFabricAddress(address, `workload ${short}'s address`, 4);
    const v6 = opts.ipv6Address;
    if (v6 !== undefined) assertFabricAddress(v6, `workload ${short}'s IPv6 address`, 6);
    const ns = await this.addNamespace(short);
    // Interfaces created in the namespace from now on (eth0, next) skip DAD.
    if (v6 !== undefined) await this.sysctl(ns, { 'net.ipv6.conf.all.accept_dad': 0, 'net.ipv6.conf.default.accept_dad': 0 });
    await this.ipBatch(nodeNs, [
      ['link', 'add', 'name', interfaceName, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns],
      ['link', 'set', interfaceName, 'address', 'ee:ee:ee:ee:ee:ee'],
    ]);
    await this.sysctl(nodeNs, {
      [`net.ipv4.conf.${interfaceName}.proxy_arp`]: 1,
      [`net.ipv4.neigh.${interfaceName}.proxy_delay`]: 0,
      [`net.ipv4.conf.${interfaceName}.forwarding`]: 1,
      ...(v6 === undefined
        ? {}
        : { [`net.ipv6.conf.${interfaceName}.accept_dad`]: 0, [`net.ipv6.conf.${interfaceName}.accept_ra`]: 0, [`net.ipv6.conf.${interfaceName}.forwarding`]: 1 }),
    });
    await this.ipBatch(ns, [
      ['addr', 'add', `${address}/32`, 'dev', 'eth0'],
      ...(v6 === undefined ? [] : [['addr', 'add', `${v6}/128`, 'dev', 'eth0', 'nodad']]),
      ['link', 'set', 'eth0', 'up'],
      ['route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link'],
      ['route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0'],
      ...(v6 === undefined ? [] : [['route', 'add', '::/0', 'via', WORKLOAD_GATEWAY_V6, 'dev', 'eth0']]),
    ]);
    await this.ip(nodeNs, ['link', 'set', interfaceName, 'up']);
    if (v6 !== undefined) {
      // The kernel adds the link-local address when the link comes up (carrier on both ends).
      await eventually(
        `${interfaceName} in ${nodeNs} to have ${WORKLOAD_GATEWAY_V6}`,
        async () => {
          const out = await this.ip(nodeNs, ['-6', '-o', 'addr', 'show', 'dev', interfaceName, 'scope', 'link']);
          if (!out.includes(`${WORKLOAD_GATEWAY_V6}/64`) || out.includes('tentative')) throw new Error(`has: ${out.trim() || 'no link-local address'}`);
          return true;
        },
        5000,
        20,
      );
    }
    return { namespace: ns, nodeNamespace: nodeNs, interfaceName, address, ...(v6 === undefined ? {} : { ipv6Address: v6 }) };
  }

  /** Deletes one namespace of the fabric now (a workload's, say); its veth ends go with it. */
  async deleteNamespace(ns: string): Promise<void> {
    this.assertOurs(ns);
    await this.run([this.ipBin, 'netns', 'del', ns]);
    this.created.splice(this.created.indexOf(ns), 1);
  }

  /**
   * Starts a long-running process inside NS (`ip netns exec` execs in place: the PID is the
   * program's), owned by {@link group}. `resumeBeforeStop` for daemons a test may SIGSTOP.
   */
  start(ns: string, name: string, command: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; logFile?: string; resumeBeforeStop?: boolean } = {}): TestProcess {
    this.assertOurs(ns);
    const proc = startProcess(name, this.ipBin, ['netns', 'exec', ns, command, ...args], { env: { ...process.env, ...opts.env }, logFile: opts.logFile });
    return this.group.add(opts.resumeBeforeStop ? resumeBeforeStop(proc) : proc);
  }

  /** `ip -j [-6] route show [table T] [proto P]` in NS, parsed (IPv4 unless `family` is 6). */
  async routes(ns: string, opts: { proto?: string | number; table?: string | number; family?: 4 | 6 } = {}): Promise<KernelRoute[]> {
    const args = ['-j', ...(opts.family === 6 ? ['-6'] : []), 'route', 'show'];
    if (opts.table !== undefined) args.push('table', String(opts.table));
    if (opts.proto !== undefined) args.push('proto', String(opts.proto));
    return parseKernelRoutes(await this.ip(ns, args));
  }

  /** `busybox ping [-6] -c COUNT -W TIMEOUT ADDRESS` from NS (`-6` for an IPv6 address); never rejects on lost replies. */
  async ping(ns: string, address: string, opts: { count?: number; timeoutS?: number } = {}): Promise<PingResult> {
    const count = opts.count ?? 3;
    const r = await this.exec(ns, requireTool('busybox', 'busybox-static'), ['ping', ...familyFlag(address), '-c', String(count), '-W', String(opts.timeoutS ?? 1), address], {
      allowFailure: true,
      timeoutMs: (count + (opts.timeoutS ?? 1)) * 1000 + 10_000,
    });
    return parsePing(r.stdout + r.stderr);
  }

  /** A background `busybox ping [-6] -i INTERVAL ADDRESS` from NS, until `stop()`. */
  startPing(ns: string, address: string, intervalS = 0.2): PingStream {
    const proc = this.start(ns, `ping-${address}`, requireTool('busybox', 'busybox-static'), ['ping', ...familyFlag(address), '-i', String(intervalS), address]);
    return {
      process: proc,
      replies: () => [...proc.output().matchAll(/ seq=\d+ /g)].length,
      stop: async () => {
        proc.signal('SIGINT');
        const timer = setTimeout(() => proc.signal('SIGKILL'), 5000);
        await proc.exited();
        clearTimeout(timer);
        return parsePing(proc.output());
      },
    };
  }

  /** The namespaces with this fabric's prefix that exist now (`ip netns list`). */
  async listOurs(): Promise<string[]> {
    const out = (await this.run([this.ipBin, 'netns', 'list'])).stdout;
    return out
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((n) => n.startsWith(`${this.prefix}-`));
  }

  /**
   * Stops every process (by PID) and short-lived command, then deletes every namespace of
   * the fabric. Idempotent; tries everything and throws the first error at the end.
   */
  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    for (const child of this.running) {
      try {
        child.kill('SIGKILL');
      } catch (e) {
        errors.push(e);
      }
    }
    try {
      await this.group.stopAll();
    } catch (e) {
      errors.push(e);
    }
    for (const ns of [...this.created].reverse()) {
      const r = await this.run([this.ipBin, 'netns', 'del', ns], { allowFailure: true });
      if (r.code === 0 || /No such file/.test(r.stderr)) this.created.splice(this.created.indexOf(ns), 1);
      else errors.push(new Error(`ip netns del ${ns}: ${r.stderr.trim()}`));
    }
    const left = await this.listOurs();
    if (left.length > 0) errors.push(new Error(`namespaces left after cleanup: ${left.join(', ')}`));
    if (this.created.length === 0) liveFabrics.delete(this);
    if (errors.length > 0) throw errors[0] instanceof Error ? errors[0] : new Error(String(errors[0]));
  }

  /** @internal the exit hook's synchronous cleanup. */
  deleteNamespacesSync(): void {
    for (const ns of [...this.created].reverse()) {
      try {
        execFileSync(this.ipBin, ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // Deliberate: already gone, or the process is exiting and nothing more can be done.
      }
    }
    this.created.length = 0;
  }
}

/**
 * Starts nats-server inside NS on `address:port` (JetStream off), waiting for its ports file
 * in `dir`. The URL is reachable from the fabric only.
 */
export async function startNatsIn(fabric: Fabric, ns: string, dir: string, address: string, port = 4222): Promise<NatsServer> {
  assertFabricAddress(address, 'nats-server address', 4);
  const proc = fabric.start(ns, 'nats-server', requireTool('nats-server'), ['-a', address, '-p', String(port), '--ports_file_dir', dir, '-l', path.join(dir, 'nats.log')]);
  const file = path.join(dir, `nats-server_${proc.pid}.ports`);
  await eventually('the nats-server ports file', () => existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { nats?: string[] }).nats?.[0], 10_000, 20);
  return { url: `nats://${address}:${port}`, port, process: proc };
}

/**
 * Starts a built Tabby service inside NS (`node services/X/dist/main.js ARGS…`) and waits for
 * its "gRPC listening" log line.
 */
export async function startServiceIn(
  fabric: Fabric,
  ns: string,
  service: 'store' | 'ipam' | 'topology' | 'agent',
  args: readonly string[],
  opts: { name?: string; env?: NodeJS.ProcessEnv; logFile?: string } = {},
): Promise<ServiceProcess> {
  const proc = fabric.start(ns, opts.name ?? `tabby-${service}`, process.execPath, [serviceBin(service), ...args], { env: opts.env, logFile: opts.logFile });
  const m = await proc.waitForLine(/"msg":"gRPC listening".*"address":"([^"]+)"|"address":"([^"]+)".*"msg":"gRPC listening"/, 20_000);
  const address = m[1] ?? m[2];
  return { process: proc, address, port: Number(address.slice(address.lastIndexOf(':') + 1)) };
}

/** One eBGP/iBGP session of a fabric BIRD (direct, on the shared subnet). */
export interface FabricBirdPeer {
  /** Protocol name (letters, digits, `_`). */
  readonly name: string;
  /** Of the family of {@link FabricBirdConfig.address}. */
  readonly neighbor: string;
  readonly remoteAs: number;
  /** Channel filters as BIRD writes them; defaults: import all, export none. */
  readonly import?: string;
  readonly export?: string;
  /** `multihop N` (the neighbor is N hops away; with `ttlSecurity` the GTSM hop count). */
  readonly multihop?: number;
  /** `ttl security on` (GTSM, RFC 5082): TTL 255 out, at least 256 − hops in (hops: `multihop`, else 1). */
  readonly ttlSecurity?: boolean;
  /** `passive on`: BIRD never dials, it only accepts the neighbor's connections. */
  readonly passive?: boolean;
}

export interface FabricBirdConfig {
  /** Names the files in the directory (`NAME.conf`, `NAME.ctl`, `NAME.log`). Default `bird`. */
  readonly name?: string;
  /**
   * The address sessions bind to (inside the fabric range), IPv4 or IPv6: it picks the family
   * of every session and of the channel they open (`ipv4 {…}` or `ipv6 {…}`).
   */
  readonly address: string;
  /** Router id (IPv4, inside the fabric range); default `address`, required when that is IPv6. */
  readonly routerId?: string;
  readonly as: number;
  readonly peers: readonly FabricBirdPeer[];
}

/**
 * bird.conf for a BIRD router on a fabric bridge or link: sessions on port 179 bound to
 * `address` (`strict bind`; IPv4 sessions with an ipv4 channel, or IPv6 sessions with an ipv6
 * channel), short timers, graceful restart helper, and no `protocol kernel` (it only shows
 * what it learned; nothing reaches any routing table).
 */
export function renderFabricBirdConfig(config: FabricBirdConfig): string {
  assertFabricAddress(config.address, 'BIRD address');
  const v6 = isIPv6(config.address);
  const routerId = config.routerId ?? (v6 ? undefined : config.address);
  if (routerId === undefined) throw new Error(`BIRD at ${config.address}: an IPv6 address needs an IPv4 routerId`);
  assertFabricAddress(routerId, 'BIRD router id', 4);
  const family = v6 ? 'ipv6' : 'ipv4';
  const out = ['# Generated by @tabby/harness (startBirdIn). No kernel protocol: nothing reaches a routing table.', 'log stderr all;', `router id ${routerId};`, 'protocol device { scan time 2; }'];
  for (const p of config.peers) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(p.name)) throw new Error(`BIRD protocol name "${p.name}" is not a symbol`);
    assertFabricAddress(p.neighbor, `peer ${p.name}'s neighbor`, v6 ? 6 : 4);
    out.push(
      `protocol bgp ${p.name} {`,
      `  local ${config.address} as ${config.as};`,
      `  neighbor ${p.neighbor} as ${p.remoteAs};`,
      '  strict bind;',
      '  hold time 9; keepalive time 3; connect retry time 2; connect delay time 1;',
      '  error wait time 1, 5;',
      '  graceful restart aware;',
      ...(p.multihop !== undefined ? [`  multihop ${p.multihop};`] : []),
      ...(p.ttlSecurity ? ['  ttl security on;'] : []),
      ...(p.passive ? ['  passive on;'] : []),
      `  ${family} { import ${p.import ?? 'all'}; export ${p.export ?? 'none'}; };`,
      '}',
    );
  }
  return `${out.join('\n')}\n`;
}

/**
 * Starts BIRD 2 inside NS with {@link renderFabricBirdConfig}'s config in `dir`; resolves once
 * its control socket answers. Query it with the returned BirdProcess (routes, protocol,
 * waitEstablished…; its `configure` is for loopback peers and refuses a fabric address).
 */
export async function startBirdIn(fabric: Fabric, ns: string, dir: string, config: FabricBirdConfig): Promise<BirdProcess> {
  const name = config.name ?? 'bird';
  const bin = requireTool('bird', 'bird2');
  const { proc, client, configPath } = await launchBird(fabric.group, dir, name, renderFabricBirdConfig(config), (args, logFile) =>
    fabric.start(ns, name, bin, args, { logFile, resumeBeforeStop: true }),
  );
  return new BirdProcess(proc, client, configPath, { name, routerId: config.routerId ?? config.address, address: config.address, port: 179, as: config.as });
}

/** One neighbor of a fabric GoBGP. */
export interface FabricGobgpNeighbor {
  readonly address: string;
  readonly remoteAs: number;
  /**
   * GTSM (RFC 5082) for a neighbor this many hops away (1 = directly connected):
   * `[neighbors.ttl-security.config] enabled = true, ttl-min = 256 - hops`.
   */
  readonly ttlSecurity?: number;
}

export interface FabricGobgpConfig {
  /** Names the files (`NAME.toml`, `NAME.log`). Default `gobgpd`. */
  readonly name?: string;
  /** Router id and listen/source address (inside the fabric range); port 179. */
  readonly address: string;
  readonly as: number;
  readonly neighbors: readonly FabricGobgpNeighbor[];
}

/** gobgpd.toml for a GoBGP router on a fabric bridge or link (IPv4 unicast, port 179, short timers, GTSM per neighbor when asked). */
export function renderFabricGobgpConfig(config: FabricGobgpConfig): string {
  assertFabricAddress(config.address, 'GoBGP address', 4);
  const q = (s: string): string => JSON.stringify(s);
  const out = ['# Generated by @tabby/harness (startGobgpIn).', '[global.config]', `  as = ${config.as}`, `  router-id = ${q(config.address)}`, '  port = 179', `  local-address-list = [${q(config.address)}]`];
  for (const n of config.neighbors) {
    assertFabricAddress(n.address, 'GoBGP neighbor', 4);
    out.push(
      '[[neighbors]]',
      '  [neighbors.config]',
      `    neighbor-address = ${q(n.address)}`,
      `    peer-as = ${n.remoteAs}`,
      '  [neighbors.transport.config]',
      `    local-address = ${q(config.address)}`,
      '  [neighbors.timers.config]',
      '    connect-retry = 2',
      '    hold-time = 9',
      '    keepalive-interval = 3',
      '    idle-hold-time-after-reset = 1',
      ...(n.ttlSecurity === undefined ? [] : gobgpTtlSecurityLines(n.ttlSecurity, `GoBGP neighbor ${n.address}`)),
      '  [[neighbors.afi-safis]]',
      '    [neighbors.afi-safis.config]',
      '      afi-safi-name = "ipv4-unicast"',
    );
  }
  return `${out.join('\n')}\n`;
}

/** A gobgpd inside a fabric namespace: the `gobgp` CLI runs there too (its API is on that namespace's 127.0.0.1). */
export class NetnsGobgpProcess extends GobgpProcess {
  /** @internal use {@link startGobgpIn} */
  constructor(
    readonly fabric: Fabric,
    readonly namespace: string,
    proc: TestProcess,
    apiPort: number,
    configPath: string,
    config: FabricGobgpConfig,
  ) {
    super(proc, apiPort, configPath, { name: config.name, as: config.as, routerId: config.address, address: config.address, port: 179 });
  }

  override async gobgp(args: readonly string[], timeoutMs = 10_000): Promise<string> {
    const r = await this.fabric.exec(this.namespace, requireTool('gobgp', 'gobgpd'), ['-u', '127.0.0.1', '-p', String(this.apiPort), ...args], { timeoutMs, allowFailure: true });
    if (r.code !== 0) throw new GobgpCommandError(args, (r.stderr || r.stdout).trim());
    return r.stdout;
  }
}

/**
 * Starts gobgpd inside NS (API on that namespace's 127.0.0.1:`apiPort`, pprof off) and waits
 * until `gobgp global` answers.
 */
export async function startGobgpIn(fabric: Fabric, ns: string, dir: string, config: FabricGobgpConfig, apiPort = 50051): Promise<NetnsGobgpProcess> {
  const name = config.name ?? 'gobgpd';
  const configPath = path.join(dir, `${name}.toml`);
  const text = renderFabricGobgpConfig(config);
  writeFileSync(configPath, text);
  await checkGobgpConfig(configPath, text);
  const proc = fabric.start(ns, name, requireTool('gobgpd'), ['-f', configPath, '-p', '-l', 'info', '--api-hosts', `127.0.0.1:${apiPort}`, '--pprof-disable'], {
    logFile: path.join(dir, `${name}.log`),
    resumeBeforeStop: true,
  });
  const gobgp = new NetnsGobgpProcess(fabric, ns, proc, apiPort, configPath, config);
  let exited = false;
  void proc.exited().then(() => (exited = true));
  const r = await eventually(
    `gobgpd ${name} to answer in ${ns}`,
    async () => {
      if (exited) return 'exited';
      await gobgp.gobgp(['global'], 2000);
      return 'ready';
    },
    15_000,
    100,
  );
  if (r === 'exited') throw new Error(`gobgpd ${name} (pid ${proc.pid}) exited during start-up; output:\n${proc.output().slice(-4000)}`);
  return gobgp;
}
