import type { Family, PathAttributes, Prefix } from '../types.js';
import { selectBest, type Decision, type DecisionReason, type Path } from './best-path.js';
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
  private readonly loc: Record<Family, Map<Prefix, Entry>> = { 'ipv4-unicast': new Map(), 'ipv6-unicast': new Map() };
  private readonly counts = new Map<string, Record<Family, number>>();
  private changed: Record<Family, Prefix[]> = { 'ipv4-unicast': [], 'ipv6-unicast': [] };
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

  /**
   * A path for a prefix from a source (replacing its previous one). Paths failing the loop
   * checks are treated as a withdraw and the reason returned.
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
    const reject = this.rejectReason(source, attrs);
    if (reject) {
      for (const p of prefixes) this.withdraw(source, family, p);
      return reject;
    }
    const path = this.pathOf(source, attrs);
    const loc = this.loc[family];
    const count = this.countOf(source.id);
    const id = source.id;
    for (const prefix of prefixes) {
      const entry = loc.get(prefix);
      if (entry === undefined) {
        loc.set(prefix, path);
        count[family]++;
        this.changed[family].push(prefix);
        continue;
      }
      if (!isMulti(entry)) {
        if (entry.source.id === id) {
          if (entry === path) continue;
          loc.set(prefix, path);
          this.changed[family].push(prefix);
          continue;
        }
        const m: MultiEntry = { cands: [entry, path], best: entry, reason: 'only-path' };
        loc.set(prefix, m);
        count[family]++;
        this.decide(family, prefix, m, entry);
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
      this.decide(family, prefix, entry, entry.best);
    }
    return undefined;
  }

  /** Removes the path of a source for a prefix (no-op when it had none). */
  withdraw(source: PathSource, family: Family, prefix: Prefix): void {
    const loc = this.loc[family];
    const entry = loc.get(prefix);
    if (entry === undefined) return;
    if (!isMulti(entry)) {
      if (entry.source.id !== source.id) return;
      loc.delete(prefix);
      this.countOf(source.id)[family]--;
      this.changed[family].push(prefix);
      return;
    }
    const i = indexOfSource(entry.cands, source);
    if (i < 0) return;
    entry.cands.splice(i, 1);
    this.countOf(source.id)[family]--;
    const previous = entry.best;
    if (entry.cands.length === 1) {
      const only = entry.cands[0];
      loc.set(prefix, only);
      if (only !== previous) this.changed[family].push(prefix);
      return;
    }
    this.decide(family, prefix, entry, previous);
  }

  private decide(family: Family, prefix: Prefix, entry: MultiEntry, previous: Path): void {
    const d = selectBest(entry.cands);
    entry.best = d.best;
    entry.reason = d.reason;
    // A new winner, or the same source's new path object, is a change for whoever exports it.
    if (d.best !== previous) this.changed[family].push(prefix);
  }

  /** Drops every path of a source (its session went down) in every family. */
  dropSource(source: PathSource): void {
    const c = this.counts.get(source.id);
    if (!c) return;
    for (const family of ['ipv4-unicast', 'ipv6-unicast'] as const) {
      if (c[family] === 0) continue;
      for (const prefix of this.prefixesOf(source.id, family)) this.withdraw(source, family, prefix);
    }
    this.counts.delete(source.id);
  }

  /** The prefixes whose best path changed since the last call. */
  takeChanges(): RibChanges {
    const c = this.changed;
    this.changed = { 'ipv4-unicast': [], 'ipv6-unicast': [] };
    return c;
  }

  /** True when changes wait to be taken. */
  get hasChanges(): boolean {
    return this.changed['ipv4-unicast'].length > 0 || this.changed['ipv6-unicast'].length > 0;
  }

  /** The best path of a prefix and why it won. */
  best(family: Family, prefix: Prefix): Decision | undefined {
    const e = this.loc[family].get(prefix);
    if (e === undefined) return undefined;
    return isMulti(e) ? { best: e.best, reason: e.reason } : { best: e, reason: 'only-path' };
  }

  /** Every path known for a prefix (the best first). */
  candidates(family: Family, prefix: Prefix): Path[] {
    const e = this.loc[family].get(prefix);
    if (e === undefined) return [];
    return isMulti(e) ? [e.best, ...e.cands.filter((c) => c !== e.best)] : [e];
  }

  /** Best paths of a family, in insertion order. */
  *bestPaths(family: Family): IterableIterator<[Prefix, Decision]> {
    for (const [prefix, e] of this.loc[family]) yield [prefix, isMulti(e) ? { best: e.best, reason: e.reason } : { best: e, reason: 'only-path' }];
  }

  /** Number of prefixes with a best path. */
  size(family: Family): number {
    return this.loc[family].size;
  }

  /** Number of prefixes a source has a path for (the size of its Adj-RIB-In). */
  countFrom(sourceId: string, family: Family): number {
    return this.counts.get(sourceId)?.[family] ?? 0;
  }

  /** The prefixes a source has a path for. Walks the family's table: for status and resync, not per UPDATE. */
  prefixesOf(sourceId: string, family: Family): Prefix[] {
    const out: Prefix[] = [];
    if ((this.counts.get(sourceId)?.[family] ?? 0) === 0) return out;
    for (const [prefix, e] of this.loc[family]) {
      if (isMulti(e) ? e.cands.some((c) => c.source.id === sourceId) : e.source.id === sourceId) out.push(prefix);
    }
    return out;
  }

  /** What a source sent us (its Adj-RIB-In) for a family. Walks the table: not for hot paths. */
  adjRibIn(sourceId: string, family: Family): ReadonlyMap<Prefix, Path> {
    const out = new Map<Prefix, Path>();
    if ((this.counts.get(sourceId)?.[family] ?? 0) === 0) return out;
    for (const [prefix, e] of this.loc[family]) {
      const p = isMulti(e) ? e.cands.find((c) => c.source.id === sourceId) : e.source.id === sourceId ? e : undefined;
      if (p) out.set(prefix, p);
    }
    return out;
  }
}

function indexOfSource(cands: Path[], source: PathSource): number {
  for (let i = 0; i < cands.length; i++) if (cands[i].source.id === source.id) return i;
  return -1;
}
