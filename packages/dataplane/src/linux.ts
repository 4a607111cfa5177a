/**
 * The Linux dataplane: Tabby's routes in one kernel routing table, marked with Tabby's route
 * protocol number, read with `ip -j route show … proto P` and written by one
 * `ip -force -batch -` process per reconcile.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { checkNamespace } from './namespace-guard.js';
import { diffCanonical, sameRoute } from './diff.js';
import { DataplaneConfigError, IprouteError } from './errors.js';
import { batchLine, parseAddrJson, parseBatchErrors, parseLinkJson, parseRouteJson, type BatchOp } from './iproute2.js';
import { FILE_EXISTS_MESSAGE, prefixTakenMessage } from './messages.js';
import { onLinkResolver, type ConnectedNetwork } from './on-link.js';
import { DEFAULT_ROUTE_PROTOCOL, MAIN_ROUTE_TABLE, routeProtocolProblem, routeTableProblem } from './protocol.js';
import type { Dataplane, DataplaneLogger, KernelRoute, NextHop, ReconcileOptions, ReconcileReport, RouteFailure } from './types.js';
import { checkRoutes, spareUnlessKept } from './validate.js';

export interface LinuxDataplaneOptions {
  /** Routing table (default 254, main). 1-4294967295, not 253 (`default`) or 255 (`local`). */
  readonly table?: number;
  /** Tabby's route protocol number (default {@link DEFAULT_ROUTE_PROTOCOL}, 84); not one of the kernel's or another daemon's. */
  readonly protocol?: number;
  /** Run every command as `ip -n NAME` (tests, benches); absent: this process's namespace. */
  readonly netns?: string;
  /** The `ip` program (default `ip` on PATH). */
  readonly ipPath?: string;
  readonly logger?: DataplaneLogger;
}

interface IpResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Network namespace names as `ip netns add` makes them (a file under /run/netns). */
const NETNS_NAME = /^[A-Za-z0-9_.-]{1,255}$/;

/** A write in a batch and the route it is for (line N of the batch is `ops[N - 1]`). */
interface Op {
  readonly op: BatchOp;
  readonly route: KernelRoute;
}

/** Names /etc/iproute2/rt_protos{,.d/*.conf} give `protocol`, other than `tabby`. */
function localProtocolNames(protocol: number): string[] {
  const files = ['/etc/iproute2/rt_protos'];
  try {
    for (const f of readdirSync('/etc/iproute2/rt_protos.d')) if (f.endsWith('.conf')) files.push(`/etc/iproute2/rt_protos.d/${f}`);
  } catch {
    // No rt_protos.d on this node: only the main file can name the protocol.
  }
  const names: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue; // a missing or unreadable file names nothing
    }
    for (const line of text.split('\n')) {
      const m = /^\s*(0x[0-9a-fA-F]+|\d+)\s+(\S+)/.exec(line);
      if (m && Number(m[1]) === protocol && m[2] !== 'tabby') names.push(`${m[2]} (${f})`);
    }
  }
  return names;
}

/**
 * Tabby's routes in a Linux routing table through iproute2. Every command names the table
 * and the protocol number, so a route of another protocol is never listed, replaced or
 * deleted: new routes are written with `route add`, which the kernel refuses when another
 * route holds the prefix (same table, same metric), and only routes listed as Tabby's are
 * replaced or deleted. Made by {@link LinuxDataplane.open}.
 */
export class LinuxDataplane implements Dataplane {
  readonly description: string;
  private lineCount = 0;
  private batchCount = 0;
  private closed = false;
  /** Reconciles run one at a time, in call order. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly nsArgs: readonly string[];

  private constructor(
    readonly table: number,
    readonly protocol: number,
    readonly netns: string | undefined,
    private readonly ipPath: string,
    private readonly logger: DataplaneLogger | undefined,
  ) {
    this.nsArgs = netns === undefined ? [] : ['-n', netns];
    this.description = `linux table ${table} proto ${protocol}${netns === undefined ? '' : ` netns ${netns}`}`;
  }

  /**
   * Validates the options, applies the namespace guard ({@link checkNamespace}: under a test
   * the target must not be the machine's own namespace) and checks that `ip` runs there.
   * Throws {@link DataplaneConfigError} for a bad table, protocol or namespace name,
   * `NamespaceGuardError` from the guard and {@link IprouteError} when `ip` cannot run.
   */
  static async open(opts: LinuxDataplaneOptions = {}): Promise<LinuxDataplane> {
    const table = opts.table ?? MAIN_ROUTE_TABLE;
    const protocol = opts.protocol ?? DEFAULT_ROUTE_PROTOCOL;
    const tableProblem = routeTableProblem(table);
    if (tableProblem !== undefined) throw new DataplaneConfigError(tableProblem, 'table');
    const protocolProblem = routeProtocolProblem(protocol);
    if (protocolProblem !== undefined) throw new DataplaneConfigError(protocolProblem, 'protocol');
    if (opts.netns !== undefined) {
      if (!NETNS_NAME.test(opts.netns) || opts.netns === '.' || opts.netns === '..') {
        throw new DataplaneConfigError(`network namespace name "${opts.netns}" is not valid (letters, digits, "_", "." and "-")`, 'netns');
      }
      if (!existsSync(`/run/netns/${opts.netns}`)) {
        throw new DataplaneConfigError(`network namespace "${opts.netns}" does not exist (no /run/netns/${opts.netns})`, 'netns');
      }
    }
    const guard = checkNamespace(opts.netns === undefined ? {} : { netns: opts.netns });
    const dp = new LinuxDataplane(table, protocol, opts.netns, opts.ipPath ?? 'ip', opts.logger);
    const names = localProtocolNames(protocol);
    if (names.length > 0) {
      dp.logger?.warn({ protocol, names }, `route protocol ${protocol} has another name on this node; check that no other program writes routes with it`);
    }
    await dp.links();
    dp.logger?.debug({ dataplane: dp.description, guard: guard.detail }, 'dataplane opened');
    return dp;
  }

  /** Batch lines written since open (a reconcile with nothing to change writes none). */
  get writes(): number {
    return this.lineCount;
  }

  /** `ip -batch` processes run since open (at most one per reconcile). */
  get batches(): number {
    return this.batchCount;
  }

  /** Tabby's routes in the table (IPv4, then IPv6), as the kernel lists them, in canonical form. */
  async list(): Promise<KernelRoute[]> {
    this.assertOpen();
    const show = (family: 4 | 6): string[] => ['-N', '-j', `-${family}`, 'route', 'show', 'table', String(this.table), 'proto', String(this.protocol)];
    const read = async (family: 4 | 6): Promise<KernelRoute[]> => {
      const r = await this.ip(show(family));
      // A table the kernel has never held a route in does not exist yet: it is empty.
      if (r.code !== 0 && /FIB table does not exist/.test(r.stderr)) return [];
      if (r.code !== 0) throw this.failure(show(family), r);
      return this.parse(r.stdout, family, show(family));
    };
    const [v4, v6] = await Promise.all([read(4), read(6)]);
    return [...v4, ...v6];
  }

  async links(): Promise<ReadonlySet<string>> {
    this.assertOpen();
    const args = ['-j', 'link', 'show'];
    const out = await this.ipChecked(args);
    try {
      return new Set(parseLinkJson(out));
    } catch (err) {
      throw new IprouteError(`could not read \`ip ${args.join(' ')}\`: ${err instanceof Error ? err.message : String(err)}`, args, '', { cause: err });
    }
  }

  /**
   * Makes Tabby's routes in the table equal `desired` with one `ip -force -batch -` process:
   * `route del` for stale routes (with `prune`), `route add` for new ones, `route replace`
   * for Tabby's routes whose next hops changed; nothing is run when nothing differs. A
   * gateway without an interface that lies in a connected network of an interface that is
   * up is written `dev IF onlink`. Routes refused before writing (malformed, wanted twice) and
   * lines the kernel refused are in `failed` with the reason; every other route is written.
   * Concurrent calls run one after another.
   */
  reconcile(desired: readonly KernelRoute[], options: ReconcileOptions = {}): Promise<ReconcileReport> {
    const run = this.queue.then(() => this.reconcileNow(desired, options));
    // The queue only orders calls; each caller sees its own result or error through `run`.
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async reconcileNow(desired: readonly KernelRoute[], options: ReconcileOptions): Promise<ReconcileReport> {
    this.assertOpen();
    const t0 = performance.now();
    const checked = checkRoutes(desired);
    const failed: RouteFailure[] = [...checked.failed];
    const needsResolution = checked.routes.some((r) => r.nextHops.some((h) => h.via !== undefined && h.dev === undefined));
    const [current, networks] = await Promise.all([this.list(), needsResolution ? this.connected() : Promise.resolve([])]);
    const resolve = onLinkResolver(networks);
    const wanted = adoptKernelDevices(checked.routes.map(resolve), current);
    const diff = diffCanonical(current, wanted, { prune: options.prune ?? true, spare: spareUnlessKept(options.spare, checked.keep) });
    const ops: Op[] = [
      ...diff.remove.filter((r) => !checked.keep.has(r.prefix)).map((route): Op => ({ op: 'del', route })),
      ...diff.add.map((route): Op => ({ op: 'add', route })),
      ...diff.change.map((c): Op => ({ op: 'replace', route: c.to })),
    ];
    const counts = { add: 0, replace: 0, del: 0 };
    if (ops.length > 0) {
      const lines = ops.map((o) => batchLine(o.op, o.route, this.table, this.protocol));
      const result = await this.ip(['-force', '-batch', '-'], `${lines.join('\n')}\n`);
      this.batchCount += 1;
      this.lineCount += lines.length;
      const errors = parseBatchErrors(result.stderr);
      const done: boolean[] = ops.map((o, i) => {
        const error = errors.byLine.get(i + 1);
        if (error === undefined) return true;
        if (o.op === 'del' && /No such process/.test(error)) return true; // already gone: what del wanted
        const text = o.op === 'add' && error.includes(FILE_EXISTS_MESSAGE) ? prefixTakenMessage(error, this.table, this.protocol) : error;
        failed.push({ prefix: o.route.prefix, error: text });
        return false;
      });
      if (errors.unattributed !== '' || (result.code !== 0 && result.code !== 1)) {
        // iproute2 stopped early (a line it could not parse, or it did not start): which
        // lines ran is unknown, so read the table back and report every write that is missing.
        const why = errors.unattributed || `ip -batch exited with code ${String(result.code)}`;
        this.logger?.warn({ dataplane: this.description, stderr: errors.unattributed, code: result.code }, 'ip -batch stopped early; checking which routes landed');
        const after = new Map<string, KernelRoute[]>();
        for (const r of await this.list()) after.set(r.prefix, [...(after.get(r.prefix) ?? []), r]);
        ops.forEach((o, i) => {
          if (!done[i]) return;
          const present = after.get(o.route.prefix) ?? [];
          const landed = o.op === 'del' ? present.length === 0 : present.some((r) => sameRoute(r, o.route));
          if (!landed) {
            done[i] = false;
            failed.push({ prefix: o.route.prefix, error: why });
          }
        });
      }
      ops.forEach((o, i) => {
        if (done[i]) counts[o.op] += 1;
      });
    }
    const report: ReconcileReport = {
      added: counts.add,
      changed: counts.replace,
      removed: counts.del,
      unchanged: diff.unchanged.length,
      failed,
      ms: performance.now() - t0,
    };
    if (failed.length > 0) {
      this.logger?.warn({ dataplane: this.description, failed: failed.length, first: failed.slice(0, 5) }, 'routes could not be programmed');
    }
    if (ops.length > 0) {
      this.logger?.info({ dataplane: this.description, added: report.added, changed: report.changed, removed: report.removed, unchanged: report.unchanged, failed: failed.length, ms: Math.round(report.ms) }, 'routes reconciled');
    } else {
      this.logger?.debug({ dataplane: this.description, unchanged: report.unchanged, failed: failed.length }, 'routes already as wanted');
    }
    return report;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Networks on interfaces that are up (`ip -j addr show`). */
  private async connected(): Promise<ConnectedNetwork[]> {
    const args = ['-j', 'addr', 'show'];
    const out = await this.ipChecked(args);
    try {
      return parseAddrJson(out);
    } catch (err) {
      throw new IprouteError(`could not read \`ip ${args.join(' ')}\`: ${err instanceof Error ? err.message : String(err)}`, args, '', { cause: err });
    }
  }

  private parse(text: string, family: 4 | 6, args: readonly string[]): KernelRoute[] {
    try {
      return parseRouteJson(text, family);
    } catch (err) {
      throw new IprouteError(`could not read \`ip ${args.join(' ')}\`: ${err instanceof Error ? err.message : String(err)}`, args, '', { cause: err });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`dataplane ${this.description} is closed`);
  }

  /** Runs `ip`, rejecting with {@link IprouteError} when it fails. */
  private async ipChecked(args: readonly string[]): Promise<string> {
    const r = await this.ip(args);
    if (r.code !== 0) throw this.failure(args, r);
    return r.stdout;
  }

  private failure(args: readonly string[], r: IpResult): IprouteError {
    const full = [...this.nsArgs, ...args];
    return new IprouteError(`\`ip ${full.join(' ')}\` failed (exit ${String(r.code)}): ${r.stderr.trim() || 'no message'}`, full, r.stderr);
  }

  /** Runs `ip` with the namespace arguments; `input` goes to stdin. */
  private ip(args: readonly string[], input?: string): Promise<IpResult> {
    const full = [...this.nsArgs, ...args];
    return new Promise((resolve, reject) => {
      const child = spawn(this.ipPath, full, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on('data', (b: Buffer) => out.push(b));
      child.stderr?.on('data', (b: Buffer) => err.push(b));
      child.once('error', (e) => reject(new IprouteError(`could not run ${this.ipPath}: ${e.message}`, full, '', { cause: e })));
      child.once('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
      if (input !== undefined && child.stdin) {
        // If ip exits before reading everything (it stops at a line it cannot parse), the
        // write fails with EPIPE; its stderr and exit code already say what happened.
        child.stdin.on('error', () => undefined);
        child.stdin.end(input);
      }
    });
  }
}

/**
 * A gateway that is on no connected network (reached through a link route, say) is written
 * without an interface and the kernel picks one; the table then lists the route with that
 * interface. Taking the interface from the table's copy of the same gateway keeps such a
 * route equal on the next reconcile instead of rewriting it every time.
 */
function adoptKernelDevices(wanted: readonly KernelRoute[], current: readonly KernelRoute[]): KernelRoute[] {
  if (!wanted.some((r) => r.nextHops.some((h) => h.via !== undefined && h.dev === undefined))) return [...wanted];
  const byPrefix = new Map<string, KernelRoute>();
  for (const r of current) if (!byPrefix.has(r.prefix)) byPrefix.set(r.prefix, r);
  return wanted.map((r) => {
    const have = byPrefix.get(r.prefix);
    if (!have || !r.nextHops.some((h) => h.via !== undefined && h.dev === undefined)) return r;
    const nextHops = r.nextHops.map((h): NextHop => {
      if (h.via === undefined || h.dev !== undefined) return h;
      const k = have.nextHops.find((x) => x.via === h.via && x.onlink !== true);
      return k?.dev === undefined ? h : { via: h.via, dev: k.dev };
    });
    return { ...r, nextHops };
  });
}
