/**
 * An in-memory routing table for the agent's unit tests: same validation, diff and on-link
 * resolution as the Linux dataplane, the kernel's refusals imitated with the kernel's text,
 * failures injectable, and every write counted so a test can assert "no churn".
 */
import { canonicalRoute, diffCanonical } from './diff.js';
import { FILE_EXISTS_MESSAGE, INVALID_GATEWAY_MESSAGE, noDeviceMessage, prefixTakenMessage } from './messages.js';
import { onLinkResolver, type ConnectedNetwork } from './on-link.js';
import { DEFAULT_ROUTE_PROTOCOL, MAIN_ROUTE_TABLE } from './protocol.js';
import type { Dataplane, KernelRoute, ReconcileOptions, ReconcileReport, RouteFailure } from './types.js';
import { checkRoutes, spareUnlessKept } from './validate.js';
import type { BatchOp } from './iproute2.js';

export interface MemoryDataplaneOptions {
  /** Interfaces that exist (a next hop naming another fails with `Cannot find device "X"`). */
  readonly links?: Iterable<string>;
  /**
   * Connected networks, as `ip addr` would show them. With any, a gateway without an
   * interface is resolved on-link as on Linux, and one on no connected network fails with
   * the kernel's `Error: Nexthop has invalid gateway.`; with none, gateways are not checked.
   */
  readonly connected?: readonly ConnectedNetwork[];
  /** Tabby routes already in the table (as after an agent restart). */
  readonly routes?: readonly KernelRoute[];
}

/** One write the dataplane made. */
export interface MemoryWrite {
  readonly op: BatchOp;
  readonly prefix: string;
  /** False when it failed (injected, or refused as the kernel would). */
  readonly ok: boolean;
}

/** A route of another protocol in the same table: never listed, changed or removed. */
export interface ForeignRoute {
  readonly route: KernelRoute;
  /** Its protocol, for the test's own reading (`static`, `bird`, `12`). */
  readonly protocol: string;
}

function byPrefix(a: KernelRoute, b: KernelRoute): number {
  return a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0;
}

/** {@link Dataplane} over a map; description `memory`. */
export class MemoryDataplane implements Dataplane {
  readonly description = 'memory';
  private readonly table = new Map<string, KernelRoute>();
  private readonly foreign: ForeignRoute[] = [];
  private linkNames: Set<string>;
  private networks: readonly ConnectedNetwork[];
  private readonly failOnce = new Map<string, string>();
  private readonly failAlways = new Map<string, string>();
  private readFailure: Error | undefined;
  private readonly log: MemoryWrite[] = [];
  private closed = false;

  constructor(options: MemoryDataplaneOptions = {}) {
    this.linkNames = new Set(options.links ?? []);
    this.networks = options.connected ?? [];
    for (const r of options.routes ?? []) this.setRoute(r);
  }

  /** Replaces the set of interfaces that exist. */
  setLinks(names: Iterable<string>): void {
    this.linkNames = new Set(names);
  }

  /** Replaces the connected networks (see {@link MemoryDataplaneOptions.connected}). */
  setConnected(networks: readonly ConnectedNetwork[]): void {
    this.networks = [...networks];
  }

  /** The next write (add, replace or del) of `prefix` fails with `error`; later ones succeed. */
  failNext(prefix: string, error = 'RTNETLINK answers: Operation not permitted'): void {
    this.failOnce.set(canonicalRoute({ prefix, type: 'blackhole', nextHops: [] }).prefix, error);
  }

  /** Every write of `prefix` fails with `error` until called again with `undefined`. */
  failAlwaysFor(prefix: string, error: string | undefined): void {
    const p = canonicalRoute({ prefix, type: 'blackhole', nextHops: [] }).prefix;
    if (error === undefined) this.failAlways.delete(p);
    else this.failAlways.set(p, error);
  }

  /** The next `list()` or `reconcile()` throws `error` (the table could not be read). */
  failNextRead(error: Error): void {
    this.readFailure = error;
  }

  /** Writes made so far (failed ones included), like the lines of the Linux dataplane's batches. */
  get writes(): number {
    return this.log.length;
  }

  /** Every write so far, oldest first. */
  writeLog(): readonly MemoryWrite[] {
    return [...this.log];
  }

  /** Tabby's routes now, canonical, sorted by prefix. */
  routes(): KernelRoute[] {
    return [...this.table.values()].sort(byPrefix);
  }

  /** Puts a Tabby route in the table behind the dataplane's back (not counted as a write). */
  setRoute(route: KernelRoute): void {
    const c = canonicalRoute(route);
    this.table.set(c.prefix, c);
  }

  /** Removes a Tabby route behind the dataplane's back (someone ran `ip route del`). */
  removeRoute(prefix: string): void {
    this.table.delete(canonicalRoute({ prefix, type: 'blackhole', nextHops: [] }).prefix);
  }

  /**
   * Adds a route of another protocol to the table. It is never listed, replaced or removed,
   * and a Tabby route for the same prefix fails as on Linux (`File exists`).
   */
  addForeignRoute(route: KernelRoute, protocol = 'static'): void {
    this.foreign.push({ route: canonicalRoute(route), protocol });
  }

  /** The routes of other protocols, untouched. */
  foreignRoutes(): readonly ForeignRoute[] {
    return [...this.foreign];
  }

  list(): Promise<KernelRoute[]> {
    try {
      this.beforeRead();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return Promise.resolve(this.routes());
  }

  links(): Promise<ReadonlySet<string>> {
    if (this.closed) return Promise.reject(new Error('dataplane memory is closed'));
    return Promise.resolve(new Set(this.linkNames));
  }

  reconcile(desired: readonly KernelRoute[], options: ReconcileOptions = {}): Promise<ReconcileReport> {
    try {
      return Promise.resolve(this.reconcileNow(desired, options));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private beforeRead(): void {
    if (this.closed) throw new Error('dataplane memory is closed');
    const err = this.readFailure;
    this.readFailure = undefined;
    if (err) throw err;
  }

  private reconcileNow(desired: readonly KernelRoute[], options: ReconcileOptions): ReconcileReport {
    const t0 = performance.now();
    this.beforeRead();
    const checked = checkRoutes(desired);
    const failed: RouteFailure[] = [...checked.failed];
    const wanted = checked.routes.map(onLinkResolver(this.networks));
    const diff = diffCanonical(this.routes(), wanted, { prune: options.prune ?? true, spare: spareUnlessKept(options.spare, checked.keep) });
    const counts = { add: 0, replace: 0, del: 0 };
    const write = (op: BatchOp, route: KernelRoute): void => {
      const error = this.refusal(op, route);
      this.log.push({ op, prefix: route.prefix, ok: error === undefined });
      if (error !== undefined) {
        failed.push({ prefix: route.prefix, error });
        return;
      }
      counts[op] += 1;
      if (op === 'del') this.table.delete(route.prefix);
      else this.table.set(route.prefix, route);
    };
    for (const r of diff.remove) if (!checked.keep.has(r.prefix)) write('del', r);
    for (const r of diff.add) write('add', r);
    for (const c of diff.change) write('replace', c.to);
    return { added: counts.add, changed: counts.replace, removed: counts.del, unchanged: diff.unchanged.length, failed, ms: performance.now() - t0 };
  }

  /** Why the kernel would refuse this write, or undefined. */
  private refusal(op: BatchOp, route: KernelRoute): string | undefined {
    const once = this.failOnce.get(route.prefix);
    if (once !== undefined) {
      this.failOnce.delete(route.prefix);
      return once;
    }
    const always = this.failAlways.get(route.prefix);
    if (always !== undefined) return always;
    if (op === 'del') return undefined;
    if (op === 'add' && this.foreign.some((f) => f.route.prefix === route.prefix)) {
      return prefixTakenMessage(FILE_EXISTS_MESSAGE, MAIN_ROUTE_TABLE, DEFAULT_ROUTE_PROTOCOL);
    }
    for (const hop of route.nextHops) {
      if (hop.dev !== undefined && !this.linkNames.has(hop.dev)) return noDeviceMessage(hop.dev);
    }
    if (this.networks.length > 0 && route.nextHops.some((h) => h.via !== undefined && h.dev === undefined)) return INVALID_GATEWAY_MESSAGE;
    return undefined;
  }
}
