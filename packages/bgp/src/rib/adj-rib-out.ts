import type { Family, PathAttributes, Prefix } from '../types.js';
import type { Path } from './best-path.js';
import type { ExportFilter } from './export-filter.js';
import type { ExportPolicy } from './export-policy.js';
import type { LocRib, RibChanges } from './loc-rib.js';
import { evaluatePolicy, policyRules, type PolicyAction, type RoutePolicy } from './route-policy.js';

/** A peer's export rules (BGPFilter exportV4/V6) and what they need to know about a route. */
export interface ExportRules {
  readonly policy: RoutePolicy;
  /** The interface of an originated route, for `interface` matches; undefined when it has none. */
  readonly interfaceOf: (family: Family, prefix: Prefix) => string | undefined;
}

/** One family's share of a batch: prefixes to announce grouped by attributes, and withdrawals. */
export interface OutBatch {
  readonly family: Family;
  readonly announce: Map<PathAttributes, Prefix[]>;
  readonly withdraw: Prefix[];
}

/**
 * Prefixes waiting to be sent, in marking order, each once. A Set alone would do, but taking
 * from the front of a large Set while deleting leaves holes that every later iteration must
 * skip; a queue with a membership set keeps taking O(1) per prefix.
 */
class PendingQueue {
  private readonly members = new Set<Prefix>();
  private queue: Prefix[] = [];
  private head = 0;

  get size(): number {
    return this.members.size;
  }

  add(prefix: Prefix): void {
    if (this.members.has(prefix)) return;
    this.members.add(prefix);
    this.queue.push(prefix);
  }

  /** The next pending prefix, removed from the queue; undefined when empty. */
  shift(): Prefix | undefined {
    while (this.head < this.queue.length) {
      const prefix = this.queue[this.head++];
      if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (this.members.delete(prefix)) return prefix;
    }
    this.queue = [];
    this.head = 0;
    return undefined;
  }
}

/** Export filter calls that threw since the last {@link AdjRibOut.takeFilterErrors}. */
export interface FilterErrors {
  readonly count: number;
  /** The first error thrown, with the prefix it was thrown for. */
  readonly first: { readonly err: unknown; readonly family: Family; readonly prefix: Prefix };
}

/**
 * What one peer has been sent (Adj-RIB-Out) and what it still must be sent. Best-path
 * changes only mark prefixes; {@link takeBatch} compares the wanted state with what was
 * sent, so a prefix that flaps several times between two sends costs one announcement, and
 * prefixes with equal attributes are grouped to pack into few UPDATEs. The wanted state of a
 * prefix is its best path through the {@link ExportPolicy} and then the optional
 * {@link ExportRules} and {@link ExportFilter}: a rule that rejects, or (when no rule matches)
 * a filter rejecting the best path withdraws the prefix from this peer; a rule that accepts
 * skips the filter (Calico's BGPFilter export functions run before its own export logic).
 */
export class AdjRibOut {
  private readonly sent: Record<Family, Map<Prefix, PathAttributes>> = { 'ipv4-unicast': new Map(), 'ipv6-unicast': new Map() };
  private readonly dirty: Record<Family, PendingQueue> = { 'ipv4-unicast': new PendingQueue(), 'ipv6-unicast': new PendingQueue() };
  private filterErrors: { count: number; first: FilterErrors['first'] } | undefined;

  constructor(
    private readonly rib: LocRib,
    private currentPolicy: ExportPolicy,
    readonly families: ReadonlySet<Family>,
    private currentFilter?: ExportFilter,
    private currentRules?: ExportRules,
  ) {}

  get rules(): ExportRules | undefined {
    return this.currentRules;
  }

  /** Sets (or clears) the export rules and re-evaluates every prefix; only differences go out. */
  setRules(rules: ExportRules | undefined): void {
    this.currentRules = rules;
    this.markAll();
  }

  get policy(): ExportPolicy {
    return this.currentPolicy;
  }

  get filter(): ExportFilter | undefined {
    return this.currentFilter;
  }

  /**
   * Sets (or clears) the export filter and re-evaluates every prefix: only the differences
   * from what was sent go out. Pass the same function again when the filter's own inputs changed.
   */
  setFilter(filter: ExportFilter | undefined): void {
    this.currentFilter = filter;
    this.markAll();
  }

  /** Filter calls that threw since the last call (each counted as a rejection), for the caller to log. */
  takeFilterErrors(): FilterErrors | undefined {
    const e = this.filterErrors;
    this.filterErrors = undefined;
    return e;
  }

  /**
   * The peer's export rules changed (its role, our cluster id): re-evaluates every prefix;
   * only the differences from what was sent go out (announcements and withdrawals).
   */
  setPolicy(policy: ExportPolicy): void {
    this.currentPolicy = policy;
    this.markAll();
  }

  /** Marks the prefixes of best-path changes (of negotiated families) for sending. */
  mark(changes: RibChanges): void {
    const self = this.currentPolicy.peer.id;
    for (const family of this.families) {
      const sent = this.sent[family];
      const dirty = this.dirty[family];
      for (const prefix of changes[family]) {
        // A best path learned from this very peer that it was never sent: nothing to say to it.
        if (!sent.has(prefix) && this.rib.best(family, prefix)?.best.source.id === self) continue;
        dirty.add(prefix);
      }
    }
  }

  /**
   * Marks every prefix of the Loc-RIB and every prefix announced to the peer: the initial
   * table after the session comes up, or a re-evaluation of everything after a rule changed.
   */
  markAll(): void {
    for (const family of this.families) {
      const dirty = this.dirty[family];
      for (const [prefix] of this.rib.bestPaths(family)) dirty.add(prefix);
      // Normally a subset of the above (a prefix leaving the Loc-RIB is marked when it goes);
      // cheap insurance that nothing announced escapes a re-evaluation.
      for (const prefix of this.sent[family].keys()) dirty.add(prefix);
    }
  }

  /** Forgets what was sent in a family and queues it all again (the peer asked for a ROUTE-REFRESH). */
  resend(family: Family): void {
    if (!this.families.has(family)) return;
    this.sent[family].clear();
    for (const [prefix] of this.rib.bestPaths(family)) this.dirty[family].add(prefix);
  }

  /** Prefixes waiting to be sent. */
  get pending(): number {
    return this.dirty['ipv4-unicast'].size + this.dirty['ipv6-unicast'].size;
  }

  /** Takes up to `max` pending prefixes and returns what to send for them; records them as sent. */
  takeBatch(max: number): OutBatch[] {
    const out: OutBatch[] = [];
    const peer = this.currentPolicy.peer.id;
    const filter = this.currentFilter;
    const rules = this.currentRules;
    let budget = max;
    for (const family of this.families) {
      const dirty = this.dirty[family];
      if (dirty.size === 0 || budget <= 0) continue;
      const sent = this.sent[family];
      const batch: OutBatch = { family, announce: new Map(), withdraw: [] };
      while (budget > 0) {
        const prefix = dirty.shift();
        if (prefix === undefined) break;
        budget--;
        const d = this.rib.best(family, prefix);
        let want = d ? this.currentPolicy.exportAttributes(d.best, family) : null;
        if (want !== null && d) {
          const ruled = rules ? ruleAction(rules, family, prefix, d.best) : undefined;
          if (ruled === 'reject') want = null;
          else if (ruled === undefined && filter && !this.accepts(filter, family, prefix, d.best, peer)) want = null;
        }
        const had = sent.get(prefix);
        if (want === null) {
          if (had !== undefined) {
            sent.delete(prefix);
            batch.withdraw.push(prefix);
          }
          continue;
        }
        if (had === want) continue;
        sent.set(prefix, want);
        let group = batch.announce.get(want);
        if (!group) {
          group = [];
          batch.announce.set(want, group);
        }
        group.push(prefix);
      }
      if (batch.announce.size > 0 || batch.withdraw.length > 0) out.push(batch);
    }
    return out;
  }

  private accepts(filter: ExportFilter, family: Family, prefix: Prefix, path: Path, peer: string): boolean {
    try {
      return filter(family, prefix, path, peer) === true;
    } catch (err) {
      if (this.filterErrors) this.filterErrors.count++;
      else this.filterErrors = { count: 1, first: { err, family, prefix } };
      return false;
    }
  }

  /** What was announced for a prefix. */
  advertised(family: Family, prefix: Prefix): PathAttributes | undefined {
    return this.sent[family].get(prefix);
  }

  /** Number of prefixes currently announced in a family. */
  count(family: Family): number {
    return this.sent[family].size;
  }

  /** Announced prefixes of a family. */
  entries(family: Family): IterableIterator<[Prefix, PathAttributes]> {
    return this.sent[family].entries();
  }
}

/** The action of the first export rule matching a best path; undefined when none matches. */
function ruleAction(rules: ExportRules, family: Family, prefix: Prefix, path: Path): PolicyAction | undefined {
  const list = policyRules(rules.policy, family);
  if (list.length === 0) return undefined;
  const local = path.source.kind === 'local';
  return evaluatePolicy(list, { prefix, fromPeer: !local, interface: local ? rules.interfaceOf(family, prefix) : undefined })?.action;
}
