import type { Family, PathAttributes, Prefix } from '../types.js';
import type { Path } from './best-path.js';
import type { ExportFilter } from './export-filter.js';
import type { ExportPolicy } from './export-policy.js';
import { ipv4KeyOf, ipv4KeyText, type Ipv4Key } from '../codec/prefix.js';
import { Ipv4Map } from './ipv4-map.js';
import type { KeyedChanges, LocRib, RibChanges } from './loc-rib.js';
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

/** An IPv4 {@link OutBatch} with its prefixes as keys (what {@link AdjRibOut.takeWireBatch} gives). */
export interface KeyedOutBatch {
  readonly family: 'ipv4-unicast';
  readonly keyed: true;
  readonly announce: Map<PathAttributes, Ipv4Key[]>;
  readonly withdraw: Ipv4Key[];
}

/**
 * Prefixes waiting to be sent, in marking order, each once. A Set alone would do, but taking
 * from the front of a large Set while deleting leaves holes that every later iteration must
 * skip; a queue with a membership set keeps taking O(1) per prefix. "Everything" (a new session,
 * a changed rule) is a sweep: an iterator over the table taken lazily, with no membership entry
 * per prefix. A prefix both swept and marked may come out twice; the second time finds it sent
 * as wanted and says nothing.
 */
class PendingQueue<K> {
  private queue: K[] = [];
  private head = 0;
  private readonly sweeps: { readonly keys: ArrayLike<K>; at: number }[] = [];

  constructor(private readonly members: { has(k: K): boolean; set(k: K, v: true): void; delete(k: K): boolean; readonly size: number; clear(): void }) {}

  /** Prefixes waiting. */
  get size(): number {
    let n = this.members.size;
    for (const s of this.sweeps) n += s.keys.length - s.at;
    return n;
  }

  add(key: K): void {
    if (this.members.has(key)) return;
    this.members.set(key, true);
    this.queue.push(key);
  }

  /** Queues every key of a snapshot, taken lazily after those marked before. */
  addAll(keys: ArrayLike<K>): void {
    if (keys.length > 0) this.sweeps.push({ keys, at: 0 });
  }

  /** The next pending key, removed from the queue; undefined when empty. */
  shift(): K | undefined {
    while (this.head < this.queue.length) {
      const key = this.queue[this.head++];
      if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      if (this.members.delete(key)) return key;
    }
    this.queue = [];
    this.head = 0;
    while (this.sweeps.length > 0) {
      const s = this.sweeps[0];
      if (s.at < s.keys.length) return s.keys[s.at++];
      this.sweeps.shift();
    }
    return undefined;
  }
}

/**
 * One family's Adj-RIB-Out state, keyed as the Loc-RIB keys the family (IPv4: {@link Ipv4Key},
 * so a full table costs no string per prefix here; IPv6: text).
 */
interface FamilyOut<K> {
  readonly family: Family;
  readonly sent: { get(k: K): PathAttributes | undefined; has(k: K): boolean; set(k: K, v: PathAttributes): void; delete(k: K): boolean; clear(): void; readonly size: number; entries(): IterableIterator<[K, PathAttributes]>; keys(): IterableIterator<K> };
  readonly dirty: PendingQueue<K>;
  keyOf(prefix: Prefix): K | undefined;
  textOf(key: K): Prefix;
  bestPath(key: K): Path | undefined;
  /** The keys of the family's Loc-RIB: a snapshot, safe to walk over many turns while it changes. */
  ribKeys(): ArrayLike<K>;
  /** The keys sent: a snapshot. */
  sentKeys(): ArrayLike<K>;
}

/** What was sent of a family and has no best path now. */
function sentOnly<K>(st: FamilyOut<K>): K[] {
  const out: K[] = [];
  const sent = st.sentKeys();
  for (let i = 0; i < sent.length; i++) if (st.bestPath(sent[i]) === undefined) out.push(sent[i]);
  return out;
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
  private readonly v4: FamilyOut<Ipv4Key>;
  private readonly v6: FamilyOut<Prefix>;
  private filterErrors: { count: number; first: FilterErrors['first'] } | undefined;

  constructor(
    private readonly rib: LocRib,
    private currentPolicy: ExportPolicy,
    readonly families: ReadonlySet<Family>,
    private currentFilter?: ExportFilter,
    private currentRules?: ExportRules,
  ) {
    const v4Sent = new Ipv4Map<PathAttributes>();
    const v6Sent = new Map<Prefix, PathAttributes>();
    this.v4 = {
      family: 'ipv4-unicast',
      sent: v4Sent,
      dirty: new PendingQueue<Ipv4Key>(new Ipv4Map<true>()),
      keyOf: ipv4KeyOf,
      textOf: ipv4KeyText,
      bestPath: (k) => rib.bestPathIpv4(k),
      ribKeys: () => rib.ipv4Keys(),
      sentKeys: () => v4Sent.keySnapshot(),
    };
    this.v6 = {
      family: 'ipv6-unicast',
      sent: v6Sent,
      dirty: new PendingQueue<Prefix>(new Map<Prefix, true>()),
      keyOf: (p) => p,
      textOf: (p) => p,
      bestPath: (p) => rib.best('ipv6-unicast', p)?.best,
      ribKeys: () => [...rib.bestPaths('ipv6-unicast')].map(([p]) => p),
      sentKeys: () => [...v6Sent.keys()],
    };
  }

  private state(family: Family): FamilyOut<Ipv4Key> | FamilyOut<Prefix> {
    return family === 'ipv4-unicast' ? this.v4 : this.v6;
  }

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
    const v4: Ipv4Key[] = [];
    for (const p of changes['ipv4-unicast']) {
      const k = ipv4KeyOf(p);
      if (k !== undefined) v4.push(k);
    }
    this.markKeyed({ ipv4: v4, ipv6: changes['ipv6-unicast'] });
  }

  /** {@link mark} with the changes as the Loc-RIB keys them ({@link LocRib.takeKeyedChanges}). */
  markKeyed(changes: KeyedChanges): void {
    if (this.families.has('ipv4-unicast')) this.markIn(this.v4, changes.ipv4);
    if (this.families.has('ipv6-unicast')) this.markIn(this.v6, changes.ipv6);
  }

  private markIn<K>(st: FamilyOut<K>, keys: readonly K[]): void {
    const self = this.currentPolicy.peer.id;
    for (const key of keys) {
      // A best path learned from this very peer that it was never sent: nothing to say to it.
      if (!st.sent.has(key) && st.bestPath(key)?.source.id === self) continue;
      st.dirty.add(key);
    }
  }

  /**
   * Marks every prefix of the Loc-RIB and every prefix announced to the peer: the initial
   * table after the session comes up, or a re-evaluation of everything after a rule changed.
   */
  markAll(): void {
    if (this.families.has('ipv4-unicast')) this.markAllIn(this.v4);
    if (this.families.has('ipv6-unicast')) this.markAllIn(this.v6);
  }

  private markAllIn<K>(st: FamilyOut<K>): void {
    st.dirty.addAll(st.ribKeys());
    // Normally none (a prefix leaving the Loc-RIB is marked when it goes); cheap insurance
    // that nothing announced escapes a re-evaluation.
    if (st.sent.size > 0) st.dirty.addAll(sentOnly(st));
  }

  /** Forgets what was sent in a family and queues it all again (the peer asked for a ROUTE-REFRESH). */
  resend(family: Family): void {
    if (!this.families.has(family)) return;
    const st: FamilyOut<Ipv4Key | Prefix> = this.state(family);
    st.sent.clear();
    st.dirty.addAll(st.ribKeys());
  }

  /** Prefixes waiting to be sent. */
  get pending(): number {
    return this.v4.dirty.size + this.v6.dirty.size;
  }

  /** Takes up to `max` pending prefixes and returns what to send for them; records them as sent. */
  takeBatch(max: number): OutBatch[] {
    const out: OutBatch[] = [];
    const budget = this.takeIn(this.v4, out, max, true);
    this.takeIn(this.v6, out, budget, true);
    return out;
  }

  /**
   * {@link takeBatch} for the wire: IPv4 prefixes stay keys (for `encodeUpdates`' `nlriKeys`),
   * so sending a full table makes no string per prefix.
   */
  takeWireBatch(max: number): (OutBatch | KeyedOutBatch)[] {
    const out: (OutBatch | KeyedOutBatch)[] = [];
    const budget = this.takeIn(this.v4, out, max, false);
    this.takeIn(this.v6, out as OutBatch[], budget, true);
    return out;
  }

  /** Takes from one family into `out` (as text, or as the family's keys); returns the budget left. */
  private takeIn<K>(st: FamilyOut<K>, out: { family: Family; announce: Map<PathAttributes, (K | Prefix)[]>; withdraw: (K | Prefix)[] }[], budget: number, text: boolean): number {
    if (!this.families.has(st.family) || st.dirty.size === 0 || budget <= 0) return budget;
    const batch = text ? { family: st.family, announce: new Map<PathAttributes, (K | Prefix)[]>(), withdraw: [] as (K | Prefix)[] } : { family: st.family, keyed: true, announce: new Map<PathAttributes, (K | Prefix)[]>(), withdraw: [] as (K | Prefix)[] };
    const done = this.fill(st, batch, budget, text);
    if (batch.announce.size > 0 || batch.withdraw.length > 0) out.push(batch);
    return done;
  }

  private fill<K>(st: FamilyOut<K>, batch: { announce: Map<PathAttributes, (K | Prefix)[]>; withdraw: (K | Prefix)[] }, budget: number, text: boolean): number {
    const family = st.family;
    const peer = this.currentPolicy.peer.id;
    const filter = this.currentFilter;
    const rules = this.currentRules;
    const sent = st.sent;
    while (budget > 0) {
      const key = st.dirty.shift();
      if (key === undefined) break;
      budget--;
      const best = st.bestPath(key);
      let want = best ? this.currentPolicy.exportAttributes(best, family) : null;
      if (want !== null && best && (rules || filter)) {
        const prefix = st.textOf(key);
        const ruled = rules ? ruleAction(rules, family, prefix, best) : undefined;
        if (ruled === 'reject') want = null;
        else if (ruled === undefined && filter && !this.accepts(filter, family, prefix, best, peer)) want = null;
      }
      const had = sent.get(key);
      if (want === null) {
        if (had !== undefined) {
          sent.delete(key);
          batch.withdraw.push(text ? st.textOf(key) : key);
        }
        continue;
      }
      if (had === want) continue;
      sent.set(key, want);
      let group = batch.announce.get(want);
      if (!group) {
        group = [];
        batch.announce.set(want, group);
      }
      group.push(text ? st.textOf(key) : key);
    }
    return budget;
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
    const st = this.state(family) as FamilyOut<Ipv4Key | Prefix>;
    const key = st.keyOf(prefix);
    return key === undefined ? undefined : st.sent.get(key);
  }

  /** Number of prefixes currently announced in a family. */
  count(family: Family): number {
    return this.state(family).sent.size;
  }

  /** Announced prefixes of a family. */
  *entries(family: Family): IterableIterator<[Prefix, PathAttributes]> {
    const st = this.state(family) as FamilyOut<Ipv4Key | Prefix>;
    for (const [key, attrs] of st.sent.entries()) yield [st.textOf(key), attrs];
  }
}

/** The action of the first export rule matching a best path; undefined when none matches. */
function ruleAction(rules: ExportRules, family: Family, prefix: Prefix, path: Path): PolicyAction | undefined {
  const list = policyRules(rules.policy, family);
  if (list.length === 0) return undefined;
  const local = path.source.kind === 'local';
  return evaluatePolicy(list, { prefix, fromPeer: !local, interface: local ? rules.interfaceOf(family, prefix) : undefined })?.action;
}
