import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import path from 'node:path';
import { assertFabricAddress, collectCommand, parsePing, requireTool, type CommandResult, type Fabric, type PingResult } from '@tabby/harness';

/**
 * Podman 4.3 with its CNI network backend, run for real inside a node namespace of a test
 * {@link Fabric} — never in this machine's own namespace — with everything it keeps private to
 * the test and removed again by {@link Podman.cleanup}, also when the test failed.
 *
 * How podman runs here (reference dataplane.md §4; each point was needed on these machines):
 * - every podman command is `nsenter --net=/run/netns/<node> podman …` (`ip netns exec` would
 *   remount /sys and hide the cgroup mounts from runc), so the CNI plugins it calls, conmon and
 *   the `podman container cleanup` conmon runs when a container exits are in the node namespace;
 * - `CONTAINERS_CONF`, `CONTAINERS_STORAGE_CONF` and `CONTAINERS_REGISTRIES_CONF` name files of
 *   the test's own, so no system configuration is read: network_backend "cni", the test's
 *   plugin and network config directories, file locks (`lock_type = "file"`, not the
 *   machine-wide /dev/shm/libpod_lock), the events log in the test's directory;
 * - private `--root`, `--runroot`, `--tmpdir` and runc state (`--runtime-flag root=…`), storage
 *   driver vfs (no mounts to leave behind; the busybox image is 2 MB), `--cgroup-manager
 *   cgroupfs` (no systemd), and a cgroup parent of the test's own (`--cgroup-parent`, so
 *   containers and conmon sit in `/sys/fs/cgroup/<ctl>/<prefix>-…`, removed at clean-up);
 * - runc as the OCI runtime: crun 1.8 refuses the hybrid cgroup v1/v2 layout;
 * - `--ulimit nofile=1024:1024 --ulimit nproc=4096:4096`: podman would raise both limits by
 *   default, which is not permitted here (runc: "error setting rlimit type 7");
 * - the image is imported from a root filesystem made of busybox-static's binary
 *   (`podman import`), and containers run with `--pull never`: no registry is ever asked.
 *
 * What podman leaves outside the test's directory, and clean-up removes: the container network
 * namespaces `/run/netns/netns-<uuid>` (recorded from `podman inspect`), libcni's result cache
 * `/var/lib/cni/results/<network>-<container id>-<ifname>` (libcni's fixed directory; podman
 * offers no setting), and the cgroup directories under the test's cgroup parent.
 */

/** The image every container runs: busybox-static's binary and its applet links, nothing else. */
export const BUSYBOX_IMAGE = 'localhost/tabby-busybox:latest';

/** The busybox applets linked into the image's /bin. */
const APPLETS = ['sh', 'sleep', 'ping', 'ip', 'cat', 'ls', 'ifconfig', 'route', 'hostname', 'true'];

/** libcni's result cache (podman 4.3's CNI backend uses libcni's default, with no setting). */
const CNI_RESULTS_DIR = '/var/lib/cni/results';

/** A command podman ran exited non-zero (or timed out). */
export class PodmanCommandError extends Error {
  override readonly name = 'PodmanCommandError';
  constructor(
    readonly args: readonly string[],
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`podman ${args.join(' ')} failed (${code === null ? 'timed out or killed' : `exit ${code}`}): ${(stderr || stdout).trim()}`);
  }
}

/** What a podman command printed. */
/** What a podman command printed and how it ended. */
export type PodmanResult = CommandResult;

/** A CNI network configuration list (a `.conflist`), as podman reads it. */
export interface CniNetworkList {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: readonly Record<string, unknown>[];
}

/** A container started by {@link Podman.run}, as `podman inspect` describes it. */
export interface ContainerInfo {
  readonly name: string;
  readonly id: string;
  /** The network it was attached to. */
  readonly network: string;
  /** Its network namespace (`/run/netns/netns-<uuid>`). */
  readonly sandboxKey: string;
  /** Its first process (in the host's PID namespace), and conmon's. */
  readonly pid: number;
  readonly conmonPid: number;
  /** The IPv4 address (no prefix length) podman got from the CNI result. */
  readonly address: string;
  readonly prefixLength: number;
  readonly gateway: string;
  readonly macAddress: string;
}

export interface PodmanOptions {
  /** The fabric whose node namespace podman runs in. */
  readonly fabric: Fabric;
  /** The node namespace (a full name of `fabric`'s). */
  readonly namespace: string;
  /** A directory of the test's own: root, runroot, tmpdir, runc state, configuration, image. */
  readonly dir: string;
  /** Directories searched for CNI plugins (the `type` of each plugin), in order. */
  readonly pluginDirs: readonly string[];
  /** Network configuration lists written into podman's network config directory. */
  readonly networks: readonly CniNetworkList[];
  /** Extra environment for podman (and so for the CNI plugins it runs). */
  readonly env?: NodeJS.ProcessEnv;
}

/** A podman command's global flags past the configuration files. */
interface Paths {
  readonly root: string;
  readonly runroot: string;
  readonly tmpdir: string;
  readonly runc: string;
  readonly netDir: string;
  readonly conf: string;
  readonly storageConf: string;
  readonly registriesConf: string;
  readonly events: string;
}

const NETNS_NAME = /^netns-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CONTAINER_ID = /^[0-9a-f]{64}$/;

/** Every Podman alive in this process, for the exit hook. */
const live = new Set<Podman>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if the runner exits without clean-up: kill the containers' processes by PID,
  // delete their namespaces and the test's files (the fabric's own hook deletes the nodes).
  process.on('exit', () => {
    for (const p of live) p.cleanupSync();
  });
}

function toml(s: string): string {
  return JSON.stringify(s);
}

/** Every IPv4 literal (address or CIDR) in a JSON value, with the key path where it is. */
function ipv4Literals(value: unknown, where: string, out: [string, string][] = []): [string, string][] {
  if (typeof value === 'string') {
    const ip = value.split('/')[0].split(':')[0];
    if (isIPv4(ip)) out.push([value.includes(':') ? ip : value, where]);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => ipv4Literals(v, `${where}[${i}]`, out));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) ipv4Literals(v, `${where}.${k}`, out);
  }
  return out;
}

/**
 * Throws unless every IPv4 address or prefix in a network config list lies inside
 * 198.18.0.0/15: a CNI configuration of a test names no address this machine may use.
 */
export function assertConflistAddresses(list: CniNetworkList): void {
  for (const [addr, where] of ipv4Literals(list, list.name)) assertFabricAddress(addr, `CNI config ${where}`, 4);
}

/**
 * A `ptp` network of the reference plugins with host-local IPAM: each container gets an
 * address of `subnet` and a veth whose host side has the range's gateway as a /32 (no
 * masquerading, no bridge). Allocations are kept in `dataDir` (not /var/lib/cni/networks).
 */
export function ptpNetwork(name: string, subnet: string, dataDir: string): CniNetworkList {
  assertFabricAddress(subnet, `ptp network ${name}'s subnet`, 4);
  return {
    cniVersion: '0.4.0',
    name,
    plugins: [{ type: 'ptp', ipMasq: false, mtu: 1500, ipam: { type: 'host-local', ranges: [[{ subnet }]], dataDir } }],
  };
}

/** One call of a CNI plugin, as {@link cniCallRecorder}'s wrapper logged it. */
export interface CniCall {
  readonly command: string;
  readonly containerId: string;
  readonly ifname: string;
  readonly netns: string;
  /** `CNI_ARGS`, split into its `K=V` pairs. */
  readonly args: Readonly<Record<string, string>>;
}

/**
 * A plugin directory holding `type` as a small shell wrapper that appends each call's
 * `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_IFNAME`, `CNI_NETNS` and `CNI_ARGS` to `logFile`, then
 * execs `realBinary` with the same arguments, environment and stdin. So a test sees exactly
 * which calls the runtime made (podman does not call DEL on every `rm`, for one).
 */
export function cniCallRecorder(pluginDir: string, type: string, realBinary: string, logFile: string): { dir: string; calls(): CniCall[] } {
  if (!/^[a-zA-Z0-9_.-]+$/.test(type)) throw new Error(`plugin type "${type}" is not a file name`);
  mkdirSync(pluginDir, { recursive: true });
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const wrapper = path.join(pluginDir, type);
  writeFileSync(
    wrapper,
    [
      '#!/bin/sh',
      '# Written by test/cni-runtime (cniCallRecorder): log the call, then run the real plugin.',
      `printf '%s\\t%s\\t%s\\t%s\\t%s\\n' "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_IFNAME" "$CNI_NETNS" "$CNI_ARGS" >> ${q(logFile)}`,
      `exec ${q(realBinary)} "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(wrapper, 0o755);
  return {
    dir: pluginDir,
    calls: () =>
      (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [command, containerId, ifname, netns, args] = line.split('\t');
          const kv = Object.fromEntries((args ?? '').split(';').filter(Boolean).map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
          return { command, containerId, ifname, netns, args: kv };
        }),
  };
}

/** One podman (one node's container runtime) inside a fabric namespace. */
export class Podman {
  readonly namespace: string;
  readonly dir: string;
  /** Every container's cgroups live under `/sys/fs/cgroup/<controller><cgroupParent>`. */
  readonly cgroupParent: string;
  readonly networks: readonly CniNetworkList[];
  private readonly fabric: Fabric;
  private readonly paths: Paths;
  private readonly env: NodeJS.ProcessEnv;
  private readonly podmanBin = requireTool('podman');
  private readonly nsenterBin = requireTool('nsenter', 'util-linux');
  private readonly runcBin = requireTool('runc');
  private readonly running = new Set<ChildProcess>();
  /** Every container ever seen, by id: what clean-up must make sure is gone. */
  private readonly seen = new Map<string, { name: string; network: string; sandboxKey?: string; pid?: number; conmonPid?: number }>();
  private imported = false;

  constructor(opts: PodmanOptions) {
    this.fabric = opts.fabric;
    if (!opts.fabric.namespaces.includes(opts.namespace)) throw new Error(`"${opts.namespace}" is not a namespace of fabric ${opts.fabric.prefix}: podman runs only in the test's own namespaces`);
    const nsPath = `/run/netns/${opts.namespace}`;
    // The node namespace must not be this machine's own (a bind mount of it would pass the name check).
    if (statSync(nsPath).ino === statSync('/proc/self/ns/net').ino) throw new Error(`${nsPath} is this machine's own network namespace`);
    for (const n of opts.networks) assertConflistAddresses(n);
    this.namespace = opts.namespace;
    this.dir = opts.dir;
    this.networks = opts.networks;
    this.cgroupParent = `/${opts.namespace}-podman`;
    const d = (s: string): string => path.join(opts.dir, s);
    this.paths = {
      root: d('root'),
      runroot: d('runroot'),
      tmpdir: d('tmp'),
      runc: d('runc'),
      netDir: d('net.d'),
      conf: d('containers.conf'),
      storageConf: d('storage.conf'),
      registriesConf: d('registries.conf'),
      events: d('events.log'),
    };
    this.env = {
      ...process.env,
      ...opts.env,
      CONTAINERS_CONF: this.paths.conf,
      CONTAINERS_STORAGE_CONF: this.paths.storageConf,
      CONTAINERS_REGISTRIES_CONF: this.paths.registriesConf,
    };
    mkdirSync(this.paths.netDir, { recursive: true });
    // Created before anything runs, so a failure half-way is still cleaned up.
    installExitHook();
    live.add(this);
    this.writeConfig(opts.pluginDirs);
    for (const n of opts.networks) this.writeNetwork(n);
  }

  private writeConfig(pluginDirs: readonly string[]): void {
    const p = this.paths;
    writeFileSync(
      p.conf,
      [
        '# Written by test/cni-runtime (Podman): the only containers.conf this podman reads.',
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = ${toml(p.events)}`,
        'lock_type = "file"',
        `runtime = ${toml('runc')}`,
        '[engine.runtimes]',
        `runc = [${toml(this.runcBin)}]`,
        '[network]',
        'network_backend = "cni"',
        `cni_plugin_dirs = [${pluginDirs.map(toml).join(', ')}]`,
        `network_config_dir = ${toml(p.netDir)}`,
        `default_network = ${toml(this.networks[0]?.name ?? 'none')}`,
        '',
      ].join('\n'),
    );
    writeFileSync(p.storageConf, ['[storage]', 'driver = "vfs"', `runroot = ${toml(p.runroot)}`, `graphroot = ${toml(p.root)}`, ''].join('\n'));
    writeFileSync(p.registriesConf, '# No registries: the image is imported from a local root filesystem.\nunqualified-search-registries = []\n');
  }

  /** Writes (or replaces) a network config list in podman's network config directory. */
  writeNetwork(list: CniNetworkList): void {
    assertConflistAddresses(list);
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(list.name)) throw new Error(`CNI network name "${list.name}" is not one podman accepts`);
    writeFileSync(path.join(this.paths.netDir, `${list.name}.conflist`), `${JSON.stringify(list, null, 2)}\n`);
  }

  private globalArgs(): string[] {
    const p = this.paths;
    return [
      '--root',
      p.root,
      '--runroot',
      p.runroot,
      '--tmpdir',
      p.tmpdir,
      '--storage-driver',
      'vfs',
      '--cgroup-manager',
      'cgroupfs',
      '--events-backend',
      'file',
      '--runtime-flag',
      `root=${p.runc}`,
    ];
  }

  /** Runs `nsenter --net=/run/netns/<node> podman <global flags> ARGS…` (no shell). */
  podman(args: readonly string[], opts: { timeoutMs?: number; allowFailure?: boolean; input?: string } = {}): Promise<PodmanResult> {
    const argv = [`--net=/run/netns/${this.namespace}`, this.podmanBin, ...this.globalArgs(), ...args];
    return collectCommand(this.nsenterBin, argv, {
      ...opts,
      env: this.env,
      timeoutMs: opts.timeoutMs ?? 60_000,
      tracked: this.running,
      failure: (r) => new PodmanCommandError(args, r.code, r.stdout, r.stderr),
    });
  }

  /**
   * Imports {@link BUSYBOX_IMAGE} from a root filesystem made here: /bin/busybox (from
   * busybox-static) and links for its applets. No registry is asked.
   */
  async importImage(): Promise<void> {
    if (this.imported) return;
    const rootfs = path.join(this.dir, 'rootfs');
    const bin = path.join(rootfs, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const d of ['etc', 'proc', 'sys', 'dev', 'tmp', 'run']) mkdirSync(path.join(rootfs, d), { recursive: true });
    copyFileSync(requireTool('busybox', 'busybox-static'), path.join(bin, 'busybox'));
    chmodSync(path.join(bin, 'busybox'), 0o755);
    for (const a of APPLETS) if (!existsSync(path.join(bin, a))) symlinkSync('busybox', path.join(bin, a));
    const tarPath = path.join(this.dir, 'rootfs.tar');
    const tar = spawnSync(requireTool('tar'), ['-C', rootfs, '-cf', tarPath, '.'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`tar of the busybox root filesystem failed: ${tar.stderr}`);
    await this.podman(['import', '--quiet', tarPath, BUSYBOX_IMAGE]);
    this.imported = true;
  }

  /**
   * `podman run -d --name NAME --network NETWORK … sleep 3600`, then `podman inspect`. The
   * container is recorded first, so clean-up finds it even when start-up failed half-way.
   */
  async run(name: string, opts: { network?: string; command?: readonly string[]; extraArgs?: readonly string[]; timeoutMs?: number } = {}): Promise<ContainerInfo> {
    if (!/^[a-z0-9][a-z0-9_.-]*$/.test(name)) throw new Error(`container name must be lower-case letters, digits, _ . -, got "${name}"`);
    const network = opts.network ?? this.networks[0]?.name;
    if (network === undefined) throw new Error('no network to attach the container to');
    await this.importImage();
    const args = [
      'run',
      '-d',
      '--name',
      name,
      '--hostname',
      name,
      '--network',
      network,
      '--pull',
      'never',
      '--cgroup-parent',
      this.cgroupParent,
      '--ulimit',
      'nofile=1024:1024',
      '--ulimit',
      'nproc=4096:4096',
      ...(opts.extraArgs ?? []),
      BUSYBOX_IMAGE,
      ...(opts.command ?? ['sleep', '3600']),
    ];
    try {
      const r = await this.podman(args, { timeoutMs: opts.timeoutMs ?? 60_000 });
      const id = r.stdout.trim().split('\n').pop() ?? '';
      if (CONTAINER_ID.test(id)) this.seen.set(id, { name, network });
    } catch (e) {
      await this.recordAll();
      throw e;
    }
    return this.inspect(name, network);
  }

  /** Records every container podman knows (ids, namespaces, PIDs) for clean-up. */
  private async recordAll(): Promise<void> {
    const r = await this.podman(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Names}}'], { allowFailure: true, timeoutMs: 30_000 });
    for (const line of r.stdout.split('\n')) {
      const [id, name] = line.trim().split(/\s+/);
      if (id && CONTAINER_ID.test(id)) {
        if (!this.seen.has(id)) this.seen.set(id, { name, network: '' });
        await this.inspectRaw(id).catch(() => undefined);
      }
    }
  }

  private async inspectRaw(nameOrId: string): Promise<Record<string, unknown>> {
    const r = await this.podman(['container', 'inspect', nameOrId], { timeoutMs: 30_000 });
    const list = JSON.parse(r.stdout) as Record<string, unknown>[];
    const c = list[0];
    if (!c) throw new Error(`podman inspect ${nameOrId}: no such container`);
    const id = String(c.Id);
    const state = (c.State ?? {}) as { Pid?: number; ConmonPid?: number };
    const ns = (c.NetworkSettings ?? {}) as { SandboxKey?: string };
    const rec = this.seen.get(id) ?? { name: String(c.Name), network: '' };
    if (ns.SandboxKey) rec.sandboxKey = ns.SandboxKey;
    if (state.Pid) rec.pid = state.Pid;
    if (state.ConmonPid) rec.conmonPid = state.ConmonPid;
    this.seen.set(id, rec);
    return c;
  }

  /** `podman container inspect NAME`, for the container attached to `network`. */
  async inspect(name: string, network?: string): Promise<ContainerInfo> {
    const c = await this.inspectRaw(name);
    const id = String(c.Id);
    const rec = this.seen.get(id)!;
    const settings = (c.NetworkSettings ?? {}) as { SandboxKey?: string; Networks?: Record<string, { IPAddress?: string; IPPrefixLen?: number; Gateway?: string; MacAddress?: string }> };
    const nets = settings.Networks ?? {};
    const net = network ?? (rec.network || Object.keys(nets)[0]);
    if (net && !rec.network) rec.network = net;
    const n = nets[net] ?? {};
    const state = (c.State ?? {}) as { Pid?: number; ConmonPid?: number };
    return {
      name,
      id,
      network: net,
      sandboxKey: settings.SandboxKey ?? '',
      pid: state.Pid ?? 0,
      conmonPid: state.ConmonPid ?? 0,
      address: n.IPAddress ?? '',
      prefixLength: n.IPPrefixLen ?? 0,
      gateway: n.Gateway ?? '',
      macAddress: n.MacAddress ?? '',
    };
  }

  /** `podman exec NAME ARGV…`; never rejects on a non-zero exit of the command itself. */
  exec(name: string, argv: readonly string[], opts: { timeoutMs?: number } = {}): Promise<PodmanResult> {
    return this.podman(['exec', name, ...argv], { allowFailure: true, timeoutMs: opts.timeoutMs ?? 30_000 });
  }

  /** `busybox ping -c COUNT -W TIMEOUT ADDRESS` inside container NAME. */
  async ping(name: string, address: string, opts: { count?: number; timeoutS?: number } = {}): Promise<PingResult> {
    assertFabricAddress(address, 'ping target', 4);
    const count = opts.count ?? 3;
    const timeoutS = opts.timeoutS ?? 1;
    const r = await this.exec(name, ['ping', '-c', String(count), '-W', String(timeoutS), address], { timeoutMs: (count + timeoutS) * 1000 + 15_000 });
    return parsePing(r.stdout + r.stderr);
  }

  /** `podman stop -t 0 NAME` (SIGKILL at once: `sleep` as PID 1 ignores SIGTERM). */
  async stop(name: string): Promise<void> {
    await this.podman(['stop', '-t', '0', name]);
  }

  /** `podman rm [-f] -t 0 NAME`. */
  async rm(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.podman(['rm', ...(opts.force ? ['-f', '-t', '0'] : []), name]);
  }

  /** `podman ps -a`: name → status text. */
  async ps(): Promise<Map<string, string>> {
    const r = await this.podman(['ps', '-a', '--format', '{{.Names}}\t{{.Status}}']);
    const out = new Map<string, string>();
    for (const line of r.stdout.split('\n')) {
      const [n, s] = line.split('\t');
      if (n) out.set(n, s ?? '');
    }
    return out;
  }

  /** libcni's cached results of this podman's containers still on disk (/var/lib/cni/results). */
  cachedResults(): string[] {
    if (!existsSync(CNI_RESULTS_DIR)) return [];
    const ids = [...this.seen.keys()];
    return readdirSync(CNI_RESULTS_DIR).filter((f) => ids.some((id) => f.includes(`-${id}-`)));
  }

  /** The container network namespaces of this podman's containers that still exist. */
  leftNamespaces(): string[] {
    return [...this.seen.values()].map((r) => r.sandboxKey).filter((k): k is string => k !== undefined && k !== '' && existsSync(k));
  }

  /**
   * Processes of this podman still running: its containers' and conmons' recorded PIDs, and
   * every process in its cgroup parent (there also sit the `podman container cleanup`
   * processes conmon starts when a container exits). A recorded PID counts only while it is
   * in the cgroup parent, so a reused PID is never taken for ours.
   */
  livePids(): number[] {
    const out = new Set<number>();
    for (const r of this.seen.values()) for (const pid of [r.pid, r.conmonPid]) if (pid && this.isOurs(pid)) out.add(pid);
    for (const d of this.cgroupDirs()) for (const pid of cgroupPids(d)) if (processRunning(pid)) out.add(pid);
    return [...out];
  }

  /** True when `pid` is running and sits in this podman's cgroup parent. */
  private isOurs(pid: number): boolean {
    try {
      return processRunning(pid) && readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(`:${this.cgroupParent}/`);
    } catch {
      return false;
    }
  }

  /** Our cgroup directories (`/sys/fs/cgroup/<hierarchy><cgroupParent>`) that exist. */
  cgroupDirs(): string[] {
    const base = '/sys/fs/cgroup';
    if (!existsSync(base)) return [];
    const out: string[] = [];
    for (const h of readdirSync(base)) {
      const d = path.join(base, h, this.cgroupParent);
      if (existsSync(d)) out.push(d);
    }
    return out;
  }

  private mountsUnderDir(): string[] {
    const prefix = `${this.dir}/`;
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m): m is string => m !== undefined && m.startsWith(prefix))
      .sort((a, b) => b.length - a.length);
  }

  /**
   * Removes everything: running podman commands killed by PID; every container (`podman rm -a
   * -f -t 0`, so the CNI DELs run in the node namespace); then, whatever podman left, by
   * record: container and conmon processes (SIGKILL by PID, only if still in our cgroup
   * parent), the `netns-<uuid>` namespaces, libcni's cached results, mounts under the test's
   * directory, our cgroup directories, and the directory itself. Idempotent; tries everything
   * and throws the first error at the end. Run it before the fabric's clean-up: podman needs
   * the node namespace.
   */
  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    for (const child of this.running) child.kill('SIGKILL');
    if (existsSync(`/run/netns/${this.namespace}`) && existsSync(this.paths.conf)) {
      try {
        await this.recordAll();
        const r = await this.podman(['rm', '-a', '-f', '-t', '0'], { allowFailure: true, timeoutMs: 60_000 });
        if (r.code !== 0) errors.push(new Error(`podman rm -a -f in ${this.namespace}: ${r.stderr.trim()}`));
      } catch (e) {
        errors.push(e);
      }
    }
    // The exit commands conmon started (`podman container cleanup`) finish on their own first.
    for (const until = Date.now() + 5000; this.livePids().length > 0 && Date.now() < until; ) await sleep(100);
    try {
      this.cleanupSync();
    } catch (e) {
      errors.push(e);
    }
    // A killed process leaves its cgroup a moment after its exit is seen.
    for (const until = Date.now() + 5000; (this.cgroupDirs().length > 0 || existsSync(this.dir)) && Date.now() < until; ) {
      await sleep(100);
      this.removeFiles();
    }
    const left = [
      ...this.leftNamespaces(),
      ...this.cachedResults(),
      ...this.livePids().map((p) => `pid ${p}`),
      ...this.cgroupDirs().map(describeCgroup),
      ...(existsSync(this.dir) ? [this.dir] : []),
    ];
    if (left.length > 0) errors.push(new Error(`left after podman clean-up in ${this.namespace}: ${left.join(', ')}`));
    else live.delete(this);
    if (errors.length > 0) throw errors[0] instanceof Error ? errors[0] : new Error(String(errors[0]));
  }

  /** @internal the synchronous part of {@link cleanup} (also the exit hook's). */
  cleanupSync(): void {
    for (const pid of this.livePids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Deliberate: exited between the check and the kill.
      }
    }
    // Killed processes leave their cgroups a moment later.
    const until = Date.now() + 2000;
    while (this.livePids().length > 0 && Date.now() < until) spawnSync('sleep', ['0.05']);
    const ip = requireTool('ip', 'iproute2');
    for (const key of this.leftNamespaces()) {
      const name = path.basename(key);
      if (path.dirname(key) === '/run/netns' && NETNS_NAME.test(name)) spawnSync(ip, ['netns', 'del', name], { stdio: 'ignore' });
    }
    for (const f of this.cachedResults()) rmSync(path.join(CNI_RESULTS_DIR, f), { force: true });
    this.removeFiles();
  }

  /** Unmounts what is mounted under the directory, removes our cgroup directories and the directory. */
  private removeFiles(): void {
    for (const m of this.mountsUnderDir()) spawnSync(requireTool('umount'), ['-l', m], { stdio: 'ignore' });
    for (const d of this.cgroupDirs()) removeCgroupTree(d);
    if (this.mountsUnderDir().length > 0) return;
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // Deliberate: something still wrote there; cleanup() retries and reports what is left.
    }
  }
}

/**
 * True when `pid` exists and is not a zombie. conmon double-forks, so an exited conmon is a
 * zombie of PID 1 until that reaps it: gone for every purpose but `kill(pid, 0)`.
 */
export function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The PIDs in a cgroup directory and its children (`cgroup.procs`). */
function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string): void => {
    try {
      pids.push(...readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
    } catch {
      // Deliberate: removed meanwhile.
    }
  };
  walk(dir);
  return [...new Set(pids)];
}

/** A cgroup directory and the PIDs still in it (for the error). */
function describeCgroup(dir: string): string {
  return `${dir} (pids: ${cgroupPids(dir).join(' ') || 'none'})`;
}

/** rmdir of a cgroup directory and its children, deepest first (cgroup files go with their directory). */
function removeCgroupTree(dir: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return;
  }
  for (const e of entries) removeCgroupTree(path.join(dir, e));
  try {
    rmdirSync(dir);
  } catch {
    // Deliberate: still busy; cleanup() reports what is left.
  }
}
