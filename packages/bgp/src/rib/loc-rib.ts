import { ipv4KeyOf, ipv4KeyText, type Ipv4Key } from '../codec/prefix.js';
import type { Family, PathAttributes, Prefix } from '../types.js';
import { selectBest, type Decision, type DecisionReason, type Path } from './best-path.js';
import { Ipv4Map } from './ipv4-map.js';
import type { PathSource } from './source.js';

/** A change of the best path of one prefix, as the speaker reports it. */
export interface BestChange {
  readonly family: Family;
  readonly prefix: Prefix;
  /** The best path now; undefined when the prefix is gone. */
  readonly best?: Path;
  readonly reason?: DecisionReason;
}

/**
 * Prefixes whose best path changed, per family, oldest first (a prefix may repeat). Kept as
 * bare prefix lists so a full table costs no object per change; read the current best path
 * with {@link LocRib.best}.
 */
export type RibChanges = Readonly<Record<Family, readonly Prefix[]>>;

/** {@link RibChanges} as the Loc-RIB keys them: IPv4 as {@link Ipv4Key}s, IPv6 as text. */
export interface KeyedChanges {
  readonly ipv4: readonly Ipv4Key[];
  readonly ipv6: readonly Prefix[];
}

/** The text form of keyed changes (for best-path listeners). */
export function changesAsText(changes: KeyedChanges): RibChanges {
  const text: Prefix[] = new Array<Prefix>(changes.ipv4.length);
  for (let i = 0; i < changes.ipv4.length; i++) text[i] = ipv4KeyText(changes.ipv4[i]);
  return { 'ipv4-unicast': text, 'ipv6-unicast': changes.ipv6 };
}

/** Several paths for one prefix, with the winner. (One path is stored as the Path itself.) */
interface MultiEntry {
  readonly cands: Path[];
  best: Path;
  reason: DecisionReason;
}

type Entry = Path | MultiEntry;

function isMulti(e: Entry): e is MultiEntry {
  return (e as MultiEntry).cands !== undefined;
}

/** The table of one family: prefixes by key (IPv4: {@link Ipv4Key}; IPv6: canonical text). */
interface Table<K> {
  get(key: K): Entry | undefined;
  set(key: K, entry: Entry): void;
  delete(key: K): unknown;
  readonly size: number;
  /** Every entry, without an array per entry (a full table is a million of them). */
  forEach(f: (entry: Entry, key: K) => void): void;
  textOf(key: K): Prefix;
}

/** IPv4 prefixes by {@link Ipv4Key} (see {@link Ipv4Map}). */
class Ipv4Table extends Ipv4Map<Entry> implements Table<Ipv4Key> {
  textOf(key: Ipv4Key): Prefix {
    return ipv4KeyText(key);
  }
}

/** IPv6 prefixes by their canonical text. */
class TextTable extends Map<Prefix, Entry> implements Table<Prefix> {
  textOf(key: Prefix): Prefix {
    return key;
  }
}

/** Why an UPDATE's path was not accepted into the RIB (RFC 4271 §9.1.2, RFC 4456 §8). */
export type RejectReason = 'as-path-loop' | 'originator-id-loop' | 'cluster-list-loop';

export interface LocRibOptions {
  readonly localAs: number;
  readonly routerId: string;
  /** Set when this speaker is a route reflector (its cluster id, or its router id). */
  readonly clusterId?: string;
  /** Extra local AS numbers accepted in AS_PATH this many times (BGPPeer numAllowedLocalASNumbers). */
  readonly allowOwnAs?: number;
}

/**
 * The Loc-RIB with every peer's paths (the Adj-RIBs-In live inside it: each prefix keeps one
 * path per source), per family. A path is a shared attribute object plus its source. Best
 * paths are recomputed for the prefixes a change touches, which {@link takeChanges} lists. Sources are identified by their `id`: a peer that
 * reconnects (a new PathSource object) replaces its own paths.
 */
export class LocRib {
  private readonly v4 = new Ipv4Table();
  private readonly v6 = new TextTable();
  private readonly counts = new Map<string, Record<Family, number>>();
  /** Keys whose best path changed, per family, oldest first (text only when taken). */
  private changedV4: Ipv4Key[] = [];
  private changedV6: Prefix[] = [];
  private readonly paths = new WeakMap<PathSource, WeakMap<PathAttributes, Path>>();

  private opts: LocRibOptions;

  constructor(opts: LocRibOptions) {
    this.opts = opts;
  }

  /** Becomes (or stops being) a route reflector: the cluster id used for loop detection. */
  setClusterId(clusterId: string | undefined): void {
    this.opts = { ...this.opts, clusterId };
  }

  /** Checks the loops RFC 4271 and RFC 4456 require; undefined when the path is acceptable. */
  rejectReason(source: PathSource, attrs: PathAttributes): RejectReason | undefined {
    if (source.kind === 'local') return undefined;
    let own = 0;
    for (const seg of attrs.asPath ?? []) for (const a of seg.asns) if (a === this.opts.localAs) own++;
    if (own > (this.opts.allowOwnAs ?? 0)) return 'as-path-loop';
    if (attrs.originatorId !== undefined && attrs.originatorId === this.opts.routerId) return 'originator-id-loop';
    if (this.opts.clusterId !== undefined && attrs.clusterList?.includes(this.opts.clusterId)) return 'cluster-list-loop';
    return undefined;
  }

  private pathOf(source: PathSource, attrs: PathAttributes): Path {
    let bySource = this.paths.get(source);
    if (!bySource) {
      bySource = new WeakMap();
      this.paths.set(source, bySource);
    }
    let p = bySource.get(attrs);
    if (!p) {
      p = { attrs, source };
      bySource.set(attrs, p);
    }
    return p;
  }

  private countOf(sourceId: string): Record<Family, number> {
    let c = this.counts.get(sourceId);
    if (!c) {
      c = { 'ipv4-unicast': 0, 'ipv6-unicast': 0 };
      this.counts.set(sourceId, c);
    }
    return c;
  }

  private table(family: Family): Table<Ipv4Key> | Table<Prefix> {
    return family === 'ipv4-unicast' ? this.v4 : this.v6;
  }

  /**
   * A path for a prefix from a source (replacing its previous one). Paths failing the loop
   * checks are treated as a withdraw and the reason returned. Throws on IPv4 text that is not a
   * canonical prefix.
   */
  update(source: PathSource, family: Family, prefix: Prefix, attrs: PathAttributes): RejectReason | undefined {
    return this.updateMany(source, family, [prefix], attrs);
  }

  /**
   * The same path for many prefixes (one UPDATE): the loop checks run once for the
   * attributes and the Path object is looked up once. Returns the reject reason when the
   * attributes fail the loop checks (every prefix is then withdrawn).
   */
  updateMany(source: PathSource, family: Family, prefixes: readonly Prefix[], attrs: PathAttributes): RejectReason | undefined {
    if (family === 'ipv6-unicast') return this.updateIn(this.v6, this.changedV6, source, 'ipv6-unicast', prefixes, attrs);
    const keys: Ipv4Key[] = [];
    for (const p of prefixes) {
      const k = ipv4KeyOf(p);
      if (k === undefined) throw new Error(`not a canonical IPv4 prefix: ${JSON.stringify(p)}`);
      keys.push(k);
    }
    return this.updateIn(this.v4, this.changedV4, source, 'ipv4-unicast', keys, attrs);
  }

  /** {@link updateMany} for IPv4 prefixes given as keys (a decoded UPDATE's, see `ipv4Keys`): no text at all. */
  updateManyIpv4(source: PathSource, keys: readonly Ipv4Key[], attrs: PathAttributes): RejectReason | undefined {
    return this.updateIn(this.v4, this.changedV4, source, 'ipv4-unicast', keys, attrs);
  }

  private updateIn<K>(loc: Table<K>, changed: K[], source: PathSource, family: Family, keys: readonly K[], attrs: PathAttributes): RejectReason | undefined {
    const reject = this.rejectReason(source, attrs);
    if (reject) {
      for (const k of keys) this.withdrawIn(loc, changed, source, family, k);
      return reject;
    }
    const path = this.pathOf(source, attrs);
    const count = this.countOf(source.id);
    const id = source.id;
    for (const key of keys) {
      const entry = loc.get(key);
      if (entry === undefined) {
        loc.set(key, path);
        count[family]++;
        changed.push(key);
        continue;
      }
      if (!isMulti(entry)) {
        if (entry.source.id === id) {
          if (entry === path) continue;
          loc.set(key, path);
          changed.push(key);
          continue;
        }
        const m: MultiEntry = { cands: [entry, path], best: entry, reason: 'only-path' };
        loc.set(key, m);
        count[family]++;
        this.decide(changed, key, m, entry);
        continue;
      }
      const i = indexOfSource(entry.cands, source);
      if (i >= 0) {
        if (entry.cands[i] === path) continue;
        entry.cands[i] = path;
      } else {
        entry.cands.push(path);
        count[family]++;
      }
      this.decide(changed, key, entry, entry.best);
    }
    return undefined;
  }

  /** Removes the path of a source for a prefix (no-op when it had none, or the text is no prefix). */
  withdraw(source: PathSource, family: Family, prefix: Prefix): void {
    if (family === 'ipv6-unicast') {
      this.withdrawIn(this.v6, this.changedV6, source, family, prefix);
      return;
    }
    const k = ipv4KeyOf(prefix);
    if (k !== undefined) this.withdrawIn(this.v4, this.changedV4, source, family, k);
  }

  /** {@link withdraw} of an IPv4 prefix given as its key. */
  withdrawIpv4(source: PathSource, key: Ipv4Key): void {
    this.withdrawIn(this.v4, this.changedV4, source, 'ipv4-unicast', key);
  }

  private withdrawIn<K>(loc: Table<K>, changed: K[], source: PathSource, family: Family, key: K): void {
    const entry = loc.get(key);
    if (entry === undefined) return;
    if (!isMulti(entry)) {
      if (entry.source.id !== source.id) return;
      loc.delete(key);
      this.countOf(source.id)[family]--;
      changed.push(key);
      return;
    }
    const i = indexOfSource(entry.cands, source);
    if (i < 0) return;
    entry.cands.splice(i, 1);
    this.countOf(source.id)[family]--;
    const previous = entry.best;
    if (entry.cands.length === 1) {
      const only = entry.cands[0];
      loc.set(key, only);
      if (only !== previous) changed.push(key);
      return;
    }
    this.decide(changed, key, entry, previous);
  }

  private decide<K>(changed: K[], key: K, entry: MultiEntry, previous: Path): void {
    const d = selectBest(entry.cands);
    entry.best = d.best;
    entry.reason = d.reason;
    // A new winner, or the same source's new path object, is a change for whoever exports it.
    if (d.best !== previous) changed.push(key);
  }

  /** Drops every path of a source (its session went down) in every family. */
  dropSource(source: PathSource): void {
    const c = this.counts.get(source.id);
    if (!c) return;
    if (c['ipv4-unicast'] > 0) for (const k of this.keysOf(this.v4, source.id)) this.withdrawIn(this.v4, this.changedV4, source, 'ipv4-unicast', k);
    if (c['ipv6-unicast'] > 0) for (const k of this.keysOf(this.v6, source.id)) this.withdrawIn(this.v6, this.changedV6, source, 'ipv6-unicast', k);
    this.counts.delete(source.id);
  }

  private keysOf<K>(loc: Table<K>, sourceId: string): K[] {
    const out: K[] = [];
    loc.forEach((e, key) => {
      if (isMulti(e) ? e.cands.some((c) => c.source.id === sourceId) : e.source.id === sourceId) out.push(key);
    });
    return out;
  }

  /** The prefixes whose best path changed since the last call. */
  takeChanges(): RibChanges {
    return changesAsText(this.takeKeyedChanges());
  }

  /** {@link takeChanges} as the table keys them: no text for IPv4. */
  takeKeyedChanges(): KeyedChanges {
    const changes = { ipv4: this.changedV4, ipv6: this.changedV6 };
    this.changedV4 = [];
    this.changedV6 = [];
    return changes;
  }

  /**
   * Forgets the changes without reading them: for a speaker with nobody to tell (no peer being
   * sent routes, no best-path listener), which then never turns a key into text.
   */
  discardChanges(): void {
    this.changedV4 = [];
    this.changedV6 = [];
  }

  /** True when changes wait to be taken. */
  get hasChanges(): boolean {
    return this.changedV4.length > 0 || this.changedV6.length > 0;
  }

  private entryOf(family: Family, prefix: Prefix): Entry | undefined {
    if (family === 'ipv6-unicast') return this.v6.get(prefix);
    const k = ipv4KeyOf(prefix);
    return k === undefined ? undefined : this.v4.get(k);
  }

  /** The best path of a prefix and why it won. */
  best(family: Family, prefix: Prefix): Decision | undefined {
    const e = this.entryOf(family, prefix);
    if (e === undefined) return undefined;
    return isMulti(e) ? { best: e.best, reason: e.reason } : { best: e, reason: 'only-path' };
  }

  /** {@link best} of an IPv4 prefix given as its key. */
  bestIpv4(key: Ipv4Key): Decision | undefined {
    const e = this.v4.get(key);
    if (e === undefined) return undefined;
    return isMulti(e) ? { best: e.best, reason: e.reason } : { best: e, reason: 'only-path' };
  }

  /** The best path of an IPv4 prefix given as its key, without a Decision object (the send path). */
  bestPathIpv4(key: Ipv4Key): Path | undefined {
    const e = this.v4.get(key);
    return e === undefined ? undefined : isMulti(e) ? e.best : e;
  }

  /**
   * The IPv4 prefixes with a best path, as keys, those sharing a best path side by side: a
   * snapshot, safe to walk while the RIB changes. Sending a table in this order packs each
   * UPDATE with the prefixes of one attribute set (BIRD sends by attribute buckets too);
   * address order would give nearly one UPDATE per prefix in a real table.
   */
  ipv4Keys(): Float64Array {
    const n = this.v4.size;
    const keys = new Float64Array(n);
    const group = new Int32Array(n);
    const ids = new Map<Path, number>();
    let i = 0;
    this.v4.forEach((e, key) => {
      const p = isMulti(e) ? e.best : e;
      let id = ids.get(p);
      if (id === undefined) {
        id = ids.size;
        ids.set(p, id);
      }
      keys[i] = key;
      group[i++] = id;
    });
    // Counting sort by group, stable.
    const start = new Int32Array(ids.size + 1);
    for (let j = 0; j < n; j++) start[group[j] + 1]++;
    for (let g = 1; g <= ids.size; g++) start[g] += start[g - 1];
    const out = new Float64Array(n);
    for (let j = 0; j < n; j++) out[start[group[j]]++] = keys[j];
    return out;
  }

  /** Every path known for a prefix (the best first). */
  candidates(family: Family, prefix: Prefix): Path[] {
    const e = this.entryOf(family, prefix);
    if (e === undefined) return [];
    return isMulti(e) ? [e.best, ...e.cands.filter((c) => c !== e.best)] : [e];
  }

  /** Best paths of a family (IPv4 in address order, IPv6 in insertion order). */
  *bestPaths(family: Family): IterableIterator<[Prefix, Decision]> {
    const decision = (e: Entry): Decision => (isMulti(e) ? { best: e.best, reason: e.reason } : { best: e, reason: 'only-path' });
    if (family === 'ipv6-unicast') {
      for (const [prefix, e] of this.v6) yield [prefix, decision(e)];
      return;
    }
    for (const key of this.v4.sortedKeySnapshot()) {
      const e = this.v4.get(key);
      if (e !== undefined) yield [ipv4KeyText(key), decision(e)];
    }
  }

  /** Number of prefixes with a best path. */
  size(family: Family): number {
    return this.table(family).size;
  }

  /** Number of prefixes a source has a path for (the size of its Adj-RIB-In). */
  countFrom(sourceId: string, family: Family): number {
    return this.counts.get(sourceId)?.[family] ?? 0;
  }

  /** The prefixes a source has a path for. Walks the family's table: for status and resync, not per UPDATE. */
  prefixesOf(sourceId: string, family: Family): Prefix[] {
    if ((this.counts.get(sourceId)?.[family] ?? 0) === 0) return [];
    if (family === 'ipv6-unicast') return this.keysOf(this.v6, sourceId);
    return this.keysOf(this.v4, sourceId).map(ipv4KeyText);
  }

  /** What a source sent us (its Adj-RIB-In) for a family. Walks the table: not for hot paths. */
  adjRibIn(sourceId: string, family: Family): ReadonlyMap<Prefix, Path> {
    const out = new Map<Prefix, Path>();
    if ((this.counts.get(sourceId)?.[family] ?? 0) === 0) return out;
    const loc = this.table(family) as Table<Ipv4Key | Prefix>;
    loc.forEach((e, key) => {
      const p = isMulti(e) ? e.cands.find((c) => c.source.id === sourceId) : e.source.id === sourceId ? e : undefined;
      if (p) out.set(loc.textOf(key), p);
    });
    return out;
  }
}

function indexOfSource(cands: Path[], source: PathSource): number {
  for (let i = 0; i < cands.length; i++) if (cands[i].source.id === source.id) return i;
  return -1;
}
