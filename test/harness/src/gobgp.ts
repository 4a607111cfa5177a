import { execFile } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { renderGobgpConfig, type GobgpConfig } from './gobgp-config.js';
import { parseGobgpNeighbors, parseGobgpRib, type GobgpNeighborState, type GobgpPath } from './gobgp-json.js';
import type { BgpOrigin } from './bird-show.js';
import type { IpFamily } from './ip-family.js';
import { freePort } from './loopback.js';
import { pauseProcess, resumeBeforeStop, resumeProcess } from './process-pause.js';
import { eventually, startProcess, type ProcessGroup, type TestProcess } from './processes.js';
import { requireTool } from './tools.js';

const run = promisify(execFile);

/** gobgpd.toml did not pass `gobgpd -d`; `message` carries gobgpd's error, `config` the text. */
export class GobgpConfigError extends Error {
  override readonly name = 'GobgpConfigError';
  constructor(
    message: string,
    readonly config: string,
  ) {
    super(message);
  }
}

/** A `gobgp` CLI call failed; `stderr` is what it printed. */
export class GobgpCommandError extends Error {
  override readonly name = 'GobgpCommandError';
  constructor(
    readonly args: readonly string[],
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(`gobgp ${args.join(' ')} failed: ${stderr}`, options);
  }
}

/** Attributes of a route originated with {@link GobgpProcess.announce}. */
export interface GobgpAnnounce {
  /** Required: without it GoBGP sends its 127/8 session address, which peers reject. */
  readonly nextHop: string;
  /** `65000:1`. */
  readonly communities?: readonly string[];
  /** `1:2:3`. */
  readonly largeCommunities?: readonly string[];
  readonly med?: number;
  readonly localPref?: number;
  /** Prepended AS path (the local AS is added on eBGP sessions). */
  readonly asPath?: readonly number[];
  readonly origin?: BgpOrigin;
}

function failureText(e: unknown): string {
  if (e && typeof e === 'object') {
    const out = e as { stderr?: unknown; stdout?: unknown };
    const parts = [out.stderr, out.stdout].map((v) => (typeof v === 'string' ? v.trim() : '')).filter(Boolean);
    if (parts.length > 0) return parts.join('\n');
  }
  return e instanceof Error ? e.message : String(e);
}

/** `gobgpd -f FILE -d`: config check only. Throws {@link GobgpConfigError} with gobgpd's error. */
export async function checkGobgpConfig(file: string, text: string): Promise<void> {
  try {
    await run(requireTool('gobgpd'), ['-f', file, '-d'], { timeout: 10_000 });
  } catch (e) {
    const raw = failureText(e);
    let msg = raw;
    try {
      const j = JSON.parse(raw.split('\n').find((l) => l.includes('"Error"')) ?? '') as { Error?: string; msg?: string };
      if (j.Error) msg = `${j.msg ?? 'error'}: ${j.Error}`;
    } catch {
      // Deliberate: not gobgpd's JSON log line; keep its raw output as the message.
    }
    throw new GobgpConfigError(`gobgpd rejected ${path.basename(file)}: ${msg}`, text);
  }
}

/** A gobgpd started by {@link startGobgp}, driven through the `gobgp` CLI on its API port. */
export class GobgpProcess {
  private current: GobgpConfig;

  /** @internal use {@link startGobgp} */
  constructor(
    readonly process: TestProcess,
    readonly apiPort: number,
    readonly configPath: string,
    config: GobgpConfig,
  ) {
    this.current = config;
  }

  get config(): GobgpConfig {
    return this.current;
  }

  /** Runs `gobgp -u 127.0.0.1 -p API ARGS…`; resolves with stdout. */
  async gobgp(args: readonly string[], timeoutMs = 10_000): Promise<string> {
    try {
      const { stdout } = await run(requireTool('gobgp', 'gobgpd'), ['-u', '127.0.0.1', '-p', String(this.apiPort), ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
      return stdout;
    } catch (e) {
      throw new GobgpCommandError(args, failureText(e), { cause: e });
    }
  }

  /** `neighbor -j`: session state and per-family counters of every neighbor. */
  async neighbors(): Promise<GobgpNeighborState[]> {
    return parseGobgpNeighbors(await this.gobgp(['neighbor', '-j']));
  }

  /** One neighbor by address (undefined if not configured). */
  async neighbor(address: string): Promise<GobgpNeighborState | undefined> {
    return (await this.neighbors()).find((n) => n.address === address);
  }

  /** `global rib -a FAMILY -j`: every path (best flagged) of the global RIB. */
  async rib(family: IpFamily): Promise<GobgpPath[]> {
    return parseGobgpRib(await this.gobgp(['global', 'rib', '-a', family, '-j']));
  }

  /** `neighbor ADDR adj-in -a FAMILY -j`: what the neighbor sent (before import policy). */
  async adjIn(neighbor: string, family: IpFamily): Promise<GobgpPath[]> {
    return parseGobgpRib(await this.gobgp(['neighbor', neighbor, 'adj-in', '-a', family, '-j']));
  }

  /** `neighbor ADDR adj-out -a FAMILY -j`: what goes to the neighbor (after export processing). */
  async adjOut(neighbor: string, family: IpFamily): Promise<GobgpPath[]> {
    return parseGobgpRib(await this.gobgp(['neighbor', neighbor, 'adj-out', '-a', family, '-j']));
  }

  /** Originates a route (`global rib add`). */
  async announce(family: IpFamily, prefix: string, attrs: GobgpAnnounce): Promise<void> {
    const args = ['global', 'rib', 'add', '-a', family, prefix, 'nexthop', attrs.nextHop];
    if (attrs.origin) args.push('origin', attrs.origin);
    if (attrs.asPath && attrs.asPath.length > 0) args.push('aspath', attrs.asPath.join(','));
    if (attrs.med !== undefined) args.push('med', String(attrs.med));
    if (attrs.localPref !== undefined) args.push('local-pref', String(attrs.localPref));
    if (attrs.communities && attrs.communities.length > 0) args.push('community', attrs.communities.join(','));
    if (attrs.largeCommunities && attrs.largeCommunities.length > 0) args.push('large-community', attrs.largeCommunities.join(','));
    await this.gobgp(args);
  }

  /** Withdraws a route originated with {@link announce} (`global rib del`). */
  async withdraw(family: IpFamily, prefix: string): Promise<void> {
    await this.gobgp(['global', 'rib', 'del', '-a', family, prefix]);
  }

  /**
   * Rewrites the config (the given one, or `update(current)`), checks it with `gobgpd -d` and
   * sends SIGHUP: gobgpd adds, removes and updates neighbors (global settings stay).
   */
  async reload(next?: GobgpConfig | ((current: GobgpConfig) => GobgpConfig)): Promise<void> {
    const config = typeof next === 'function' ? next(this.current) : (next ?? this.current);
    const text = renderGobgpConfig(config);
    const staged = `${this.configPath}.next.toml`;
    writeFileSync(staged, text);
    await checkGobgpConfig(staged, text);
    renameSync(staged, this.configPath);
    this.process.signal('SIGHUP');
    this.current = config;
  }

  /** Waits until the neighbor at `address` is ESTABLISHED; resolves with its state. */
  async waitEstablished(address: string, timeoutMs = 20_000): Promise<GobgpNeighborState> {
    return eventually(
      `GoBGP neighbor ${address} to be established`,
      async () => {
        const n = await this.neighbor(address);
        if (n?.state === 'established') return n;
        throw new Error(n ? `${address} is ${n.state}` : `${address} is not configured`);
      },
      timeoutMs,
      100,
    );
  }

  /** Waits for a path to `prefix` in the global RIB matching `match` (default: the best one). */
  async waitRoute(family: IpFamily, prefix: string, match: (p: GobgpPath) => boolean = (p) => p.best, timeoutMs = 15_000): Promise<GobgpPath> {
    return eventually(
      `a path to ${prefix} in GoBGP ${this.process.name}`,
      async () => {
        const paths = (await this.rib(family)).filter((p) => p.prefix === prefix);
        const hit = paths.find(match);
        if (hit) return hit;
        throw new Error(paths.length === 0 ? 'no path' : `paths present but none matched: ${JSON.stringify(paths.map(({ attrs: _a, ...p }) => p))}`);
      },
      timeoutMs,
      100,
    );
  }

  /** Waits until no path to `prefix` is left (from `neighbor`, if given). */
  async waitNoRoute(family: IpFamily, prefix: string, opts: { neighbor?: string; timeoutMs?: number } = {}): Promise<void> {
    await eventually(
      `no path to ${prefix} in GoBGP ${this.process.name}`,
      async () => {
        const left = (await this.rib(family)).filter((p) => p.prefix === prefix && (opts.neighbor === undefined || p.neighborIp === opts.neighbor));
        if (left.length === 0) return true;
        throw new Error(`still there: ${JSON.stringify(left.map(({ attrs: _a, ...p }) => p))}`);
      },
      opts.timeoutMs ?? 15_000,
      100,
    );
  }

  /** SIGSTOP: gobgpd stops answering (its peers' hold timers run out). */
  pause(): void {
    pauseProcess(this.process);
  }

  /** SIGCONT. */
  resume(): void {
    resumeProcess(this.process);
  }

  /** Stops gobgpd by PID (idempotent). */
  async stop(): Promise<void> {
    await this.process.stop();
  }
}

/**
 * Starts gobgpd with a generated config in `dir` (`NAME.toml`, log `NAME.log`; NAME is
 * `config.name` or `gobgpd`), its gRPC API on 127.0.0.1:`apiPort` (a free port if not given)
 * and pprof disabled. The config is checked with `gobgpd -d` first (a bad one rejects with
 * GobgpConfigError). Resolves once `gobgp global` answers. The process belongs to `group`.
 */
export async function startGobgp(group: ProcessGroup, dir: string, config: GobgpConfig, opts: { timeoutMs?: number } = {}): Promise<GobgpProcess> {
  const bin = requireTool('gobgpd');
  const name = config.name ?? 'gobgpd';
  const configPath = path.join(dir, `${name}.toml`);
  const text = renderGobgpConfig(config);
  writeFileSync(configPath, text);
  await checkGobgpConfig(configPath, text);
  const apiPort = config.apiPort ?? (await freePort('127.0.0.1'));
  const args = ['-f', configPath, '-p', '-l', 'info', '--api-hosts', `127.0.0.1:${apiPort}`, '--pprof-disable'];
  const proc = group.add(resumeBeforeStop(startProcess(name, bin, args, { logFile: path.join(dir, `${name}.log`) })));
  const gobgp = new GobgpProcess(proc, apiPort, configPath, { ...config, apiPort });
  let exited = false;
  void proc.exited().then(() => (exited = true));
  const r = await eventually(
    `gobgpd ${name} to answer on 127.0.0.1:${apiPort}`,
    async () => {
      if (exited) return 'exited';
      await gobgp.gobgp(['global'], 2000);
      return 'ready';
    },
    opts.timeoutMs ?? 15_000,
    50,
  );
  if (r === 'exited') throw new Error(`gobgpd ${name} (pid ${proc.pid}) exited during start-up; output:\n${proc.output().slice(-4000)}`);
  return gobgp;
}
