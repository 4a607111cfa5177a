import { execFile } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { renderBirdConfig, type BirdConfig, type BirdStaticRoute } from './bird-config.js';
import { parseProtocolDetails, parseProtocols, parseRouteCount, parseRoutes, type BirdProtocol, type BirdProtocolDetails, type BirdRoute } from './bird-show.js';
import { BirdClient, BirdCommandError, type BirdReply } from './birdc.js';
import type { IpFamily } from './ip-family.js';
import { pauseProcess, resumeBeforeStop, resumeProcess } from './process-pause.js';
import { eventually, startProcess, type ProcessGroup, type TestProcess } from './processes.js';
import { requireTool } from './tools.js';

const run = promisify(execFile);

/** bird.conf did not pass `bird -p -c` (or `configure`); `message` is BIRD's, `config` the rejected text. */
export class BirdConfigError extends Error {
  override readonly name = 'BirdConfigError';
  constructor(
    message: string,
    readonly config: string,
  ) {
    super(message);
  }
}

/** Options of {@link BirdProcess.routes}. */
export interface BirdRouteQuery {
  /** Only this exact network (`show route PREFIX`); an absent network gives []. */
  readonly prefix?: string;
  /** Only routes from this protocol (`show route protocol NAME`). */
  readonly protocol?: string;
  /** Only the best route of each network (`show route primary`). */
  readonly primary?: boolean;
  /** Another table than master4/master6 (e.g. `igp4`). */
  readonly table?: string;
}

function masterTable(family: IpFamily): string {
  return family === 'ipv4' ? 'master4' : 'master6';
}

function errorText(e: unknown): string {
  if (e && typeof e === 'object' && 'stderr' in e && typeof e.stderr === 'string' && e.stderr.trim() !== '') return e.stderr.trim();
  return e instanceof Error ? e.message : String(e);
}

/** `bird -p -c FILE`: parse check only. Throws {@link BirdConfigError} with BIRD's message. */
export async function checkBirdConfig(file: string, text: string): Promise<void> {
  try {
    await run(requireTool('bird', 'bird2'), ['-p', '-c', file], { timeout: 10_000 });
  } catch (e) {
    const msg = errorText(e);
    const m = /:(\d+):\d+ /.exec(msg);
    const line = m ? text.split('\n')[Number(m[1]) - 1] : undefined;
    throw new BirdConfigError(`bird rejected ${path.basename(file)}: ${msg}${line === undefined ? '' : `\n  at line ${m?.[1]}: ${line.trim()}`}`, text);
  }
}

/** A BIRD 2 daemon started by {@link startBird}, queried over its control socket. */
export class BirdProcess {
  private current: BirdConfig;

  /** @internal use {@link startBird} */
  constructor(
    readonly process: TestProcess,
    readonly client: BirdClient,
    readonly configPath: string,
    config: BirdConfig,
  ) {
    this.current = config;
  }

  /** The config BIRD runs with (as last written and accepted). */
  get config(): BirdConfig {
    return this.current;
  }

  get socketPath(): string {
    return this.client.socketPath;
  }

  /** Runs a raw CLI command (`show status`, `disable peer1`, …). Rejects with BirdCommandError on 8xxx/9xxx. */
  birdc(command: string, timeoutMs?: number): Promise<BirdReply> {
    return this.client.command(command, timeoutMs);
  }

  /** `show protocols`. */
  async protocols(): Promise<BirdProtocol[]> {
    return parseProtocols((await this.birdc('show protocols')).lines);
  }

  /** `show protocols all NAME`: BGP state, neighbor, last error, per-channel route counts. */
  async protocol(name: string): Promise<BirdProtocolDetails> {
    return parseProtocolDetails((await this.birdc(`show protocols all "${name}"`)).lines);
  }

  /** `show route [PREFIX] table master4|master6 [protocol P] [primary] all`, parsed. */
  async routes(family: IpFamily, opts: BirdRouteQuery = {}): Promise<BirdRoute[]> {
    const parts = ['show route'];
    if (opts.prefix) parts.push(opts.prefix);
    parts.push('table', opts.table ?? masterTable(family));
    if (opts.protocol) parts.push('protocol', opts.protocol);
    if (opts.primary) parts.push('primary');
    parts.push('all');
    try {
      return parseRoutes((await this.birdc(parts.join(' '))).lines);
    } catch (e) {
      // 8001 "Network not found": the asked-for prefix is simply absent.
      if (e instanceof BirdCommandError && e.code === 8001) return [];
      throw e;
    }
  }

  /** Routes in master4 and/or master6 (all protocols: static routes count too; pass `protocol` to narrow). */
  async routeCount(family?: IpFamily, opts: { protocol?: string } = {}): Promise<number> {
    let total = 0;
    for (const f of family ? [family] : (['ipv4', 'ipv6'] as const)) {
      const proto = opts.protocol ? ` protocol ${opts.protocol}` : '';
      const counts = parseRouteCount((await this.birdc(`show route table ${masterTable(f)}${proto} count`)).lines);
      total += counts[masterTable(f)] ?? 0;
    }
    return total;
  }

  /**
   * Writes a new config (the given one, or `update(current)`), checks it with `bird -p`, and
   * has BIRD reload it (`configure`). Added/removed static protocols announce/withdraw their
   * routes; a changed channel restarts that BGP session. Rejects with BirdConfigError.
   */
  async configure(next?: BirdConfig | ((current: BirdConfig) => BirdConfig)): Promise<void> {
    const config = typeof next === 'function' ? next(this.current) : (next ?? this.current);
    const text = renderBirdConfig(config);
    const staged = `${this.configPath}.next`;
    writeFileSync(staged, text);
    await checkBirdConfig(staged, text);
    renameSync(staged, this.configPath);
    try {
      await this.birdc('configure');
    } catch (e) {
      if (e instanceof BirdCommandError) throw new BirdConfigError(`BIRD refused the new config: ${e.reply}`, text);
      throw e;
    }
    this.current = config;
  }

  /** Originates `prefix` (a new static blackhole protocol) through `configure`. No-op if present. */
  async announceStatic(route: string | BirdStaticRoute): Promise<void> {
    const r = typeof route === 'string' ? { prefix: route } : route;
    if (this.hasStatic(r.prefix)) return;
    await this.configure((c) => ({ ...c, statics: [...(c.statics ?? []), r] }));
  }

  /** Withdraws an originated prefix (its static protocol is removed) through `configure`. No-op if absent. */
  async withdrawStatic(prefix: string): Promise<void> {
    if (!this.hasStatic(prefix)) return;
    await this.configure((c) => ({ ...c, statics: (c.statics ?? []).filter((s) => (typeof s === 'string' ? s : s.prefix) !== prefix) }));
  }

  /** Waits until BGP protocol `name` is Established; resolves with its details. */
  async waitEstablished(name: string, timeoutMs = 20_000): Promise<BirdProtocolDetails> {
    return eventually(
      `BIRD protocol ${name} to be Established`,
      async () => {
        const p = await this.protocol(name);
        if (p.bgpState === 'Established') return p;
        throw new Error(`${name}: ${p.state} ${p.info}${p.lastError ? ` (last error: ${p.lastError})` : ''}`);
      },
      timeoutMs,
      100,
    );
  }

  /** Waits for a route to `prefix` matching `match` (default: any); resolves with it. */
  async waitRoute(family: IpFamily, prefix: string, match: (r: BirdRoute) => boolean = () => true, timeoutMs = 15_000): Promise<BirdRoute> {
    return eventually(
      `a route to ${prefix} in BIRD ${this.process.name}`,
      async () => {
        const routes = await this.routes(family, { prefix });
        const hit = routes.find(match);
        if (hit) return hit;
        throw new Error(routes.length === 0 ? 'no route' : `routes present but none matched: ${JSON.stringify(routes)}`);
      },
      timeoutMs,
      100,
    );
  }

  /** Waits until no route to `prefix` is left (from `protocol`, if given). */
  async waitNoRoute(family: IpFamily, prefix: string, opts: { protocol?: string; timeoutMs?: number } = {}): Promise<void> {
    await eventually(
      `no route to ${prefix} in BIRD ${this.process.name}`,
      async () => {
        const left = await this.routes(family, { prefix, protocol: opts.protocol });
        if (left.length === 0) return true;
        throw new Error(`still there: ${JSON.stringify(left)}`);
      },
      opts.timeoutMs ?? 15_000,
      100,
    );
  }

  /** SIGSTOP: BIRD stops answering (sessions hit their hold timers on the other side). */
  pause(): void {
    pauseProcess(this.process);
  }

  /** SIGCONT. */
  resume(): void {
    resumeProcess(this.process);
  }

  /** Closes the control connection and stops BIRD by PID (idempotent). */
  async stop(): Promise<void> {
    this.client.close();
    await this.process.stop();
  }

  private hasStatic(prefix: string): boolean {
    return (this.current.statics ?? []).some((s) => (typeof s === 'string' ? s : s.prefix) === prefix);
  }
}

/**
 * Starts BIRD 2 in the foreground with a generated config in `dir` (`NAME.conf`, control
 * socket `NAME.ctl`, pid file `NAME.pid`, log `NAME.log`; NAME is `config.name` or `bird`).
 * The config is checked with `bird -p` first (a bad one rejects with BirdConfigError). Resolves
 * once the control socket answers. The process belongs to `group` and is stopped with it.
 */
export async function startBird(group: ProcessGroup, dir: string, config: BirdConfig, opts: { timeoutMs?: number } = {}): Promise<BirdProcess> {
  const bin = requireTool('bird', 'bird2');
  const { proc, client, configPath } = await launchBird(group, dir, config.name ?? 'bird', renderBirdConfig(config), (args, logFile) => group.add(resumeBeforeStop(startProcess(config.name ?? 'bird', bin, args, { logFile }))), opts.timeoutMs);
  return new BirdProcess(proc, client, configPath, config);
}

/**
 * Writes and checks a BIRD config (`NAME.conf` in `dir`), starts BIRD in the foreground through
 * `spawn` (given BIRD's arguments and the log file) with control socket `NAME.ctl` and pid file
 * `NAME.pid`, and resolves once the control socket answers. Shared by {@link startBird} and the
 * network-namespace fabric, which start the process differently.
 */
export async function launchBird(
  group: ProcessGroup,
  dir: string,
  name: string,
  text: string,
  spawn: (args: string[], logFile: string) => TestProcess,
  timeoutMs = 15_000,
): Promise<{ proc: TestProcess; client: BirdClient; configPath: string }> {
  const configPath = path.join(dir, `${name}.conf`);
  const socketPath = path.join(dir, `${name}.ctl`);
  if (Buffer.byteLength(socketPath) > 100) throw new Error(`control socket path too long for a Unix socket: ${socketPath}`);
  writeFileSync(configPath, text);
  await checkBirdConfig(configPath, text);
  const proc = spawn(['-f', '-c', configPath, '-s', socketPath, '-P', path.join(dir, `${name}.pid`)], path.join(dir, `${name}.log`));
  const client = new BirdClient(socketPath);
  group.defer(() => client.close());
  let exited = false;
  void proc.exited().then(() => (exited = true));
  const r = await eventually(
    `BIRD ${name} to answer on ${socketPath}`,
    async () => {
      if (exited) return 'exited';
      await client.command('show status', 2000);
      return 'ready';
    },
    timeoutMs,
    50,
  );
  if (r === 'exited') throw new Error(`BIRD ${name} (pid ${proc.pid}) exited during start-up; output:\n${proc.output().slice(-4000)}`);
  return { proc, client, configPath };
}
