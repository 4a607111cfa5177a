import type { Family, PathAttributes, Prefix } from '../types.js';
import { selectBest, type Decision, type DecisionReason, type Path } from './best-path.js';
import type { PathSource } from './source.js';

/** A change of the best path of one prefix. */
export interface BestChange {
  readonly family: Family;
  readonly prefix: Prefix;
  /** The new best path; undefined when the prefix is gone. */
  readonly best?: Path;
  readonly reason?: DecisionReason;
  readonly previous?: Path;
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
 * Adj-RIB-In of every peer and the Loc-RIB, per family. Sources are identified by their
 * `id`: a peer that reconnects (a new PathSource object) replaces its own paths. A path is a shared attribute object
 * plus its source; one Path object serves both tables. Best paths are recomputed for the
 * prefixes a change touches and reported as {@link BestChange}s, in order, by {@link takeChanges}.
 */
export class LocRib {
  private readonly loc: Record<Family, Map<Prefix, Entry>> = { 'ipv4-unicast': new Map(), 'ipv6-unicast': new Map() };
  private readonly adjIn = new Map<string, Record<Family, Map<Prefix, Path>>>();
  private changes: BestChange[] = [];
  private readonly paths = new WeakMap<PathSource, WeakMap<PathAttributes, Path>>();

  constructor(private readonly opts: LocRibOptions) {}

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

  private inTable(source: PathSource): Record<Family, Map<Prefix, Path>> {
    let t = this.adjIn.get(source.id);
    if (!t) {
      t = { 'ipv4-unicast': new Map(), 'ipv6-unicast': new Map() };
      this.adjIn.set(source.id, t);
    }
    return t;
  }

  /**
   * A path for a prefix from a source (replacing its previous one). Paths failing the loop
   * checks are treated as a withdraw and the reason returned.
   */
  update(source: PathSource, family: Family, prefix: Prefix, attrs: PathAttributes): RejectReason | undefined {
    const reject = this.rejectReason(source, attrs);
    if (reject) {
      this.withdraw(source, family, prefix);
      return reject;
    }
    const path = this.pathOf(source, attrs);
    const table = this.inTable(source)[family];
    const old = table.get(prefix);
    if (old === path) return undefined;
    table.set(prefix, path);
    const loc = this.loc[family];
    const entry = loc.get(prefix);
    if (entry === undefined) {
      loc.set(prefix, path);
      this.changes.push({ family, prefix, best: path, reason: 'only-path' });
      return undefined;
    }
    if (!isMulti(entry)) {
      if (entry === old || entry.source.id === source.id) {
        loc.set(prefix, path);
        this.changes.push({ family, prefix, best: path, reason: 'only-path', previous: entry });
        return undefined;
      }
      const m: MultiEntry = { cands: [entry, path], best: entry, reason: 'only-path' };
      loc.set(prefix, m);
      this.decide(family, prefix, m, entry);
      return undefined;
    }
    const i = indexOfSource(entry.cands, source);
    if (i >= 0) entry.cands[i] = path;
    else entry.cands.push(path);
    this.decide(family, prefix, entry, entry.best);
    return undefined;
  }

  /** Removes the path of a source for a prefix (no-op when it had none). */
  withdraw(source: PathSource, family: Family, prefix: Prefix): void {
    const table = this.adjIn.get(source.id)?.[family];
    const old = table?.get(prefix);
    if (!table || !old) return;
    table.delete(prefix);
    this.removeFromLoc(family, prefix, source);
  }

  private removeFromLoc(family: Family, prefix: Prefix, source: PathSource): void {
    const loc = this.loc[family];
    const entry = loc.get(prefix);
    if (entry === undefined) return;
    if (!isMulti(entry)) {
      if (entry.source.id !== source.id) return;
      loc.delete(prefix);
      this.changes.push({ family, prefix, previous: entry });
      return;
    }
    const i = indexOfSource(entry.cands, source);
    if (i < 0) return;
    entry.cands.splice(i, 1);
    const previous = entry.best;
    if (entry.cands.length === 1) {
      const only = entry.cands[0];
      loc.set(prefix, only);
      if (only !== previous) this.changes.push({ family, prefix, best: only, reason: 'only-path', previous });
      return;
    }
    this.decide(family, prefix, entry, previous);
  }

  private decide(family: Family, prefix: Prefix, entry: MultiEntry, previous: Path): void {
    const d = selectBest(entry.cands);
    entry.best = d.best;
    entry.reason = d.reason;
    // A new winner, or the same source's new path object, is a change for whoever exports it.
    if (d.best !== previous) this.changes.push({ family, prefix, best: d.best, reason: d.reason, previous });
  }

  /** Drops every path of a source (its session went down) in every family. */
  dropSource(source: PathSource): void {
    const t = this.adjIn.get(source.id);
    if (!t) return;
    for (const family of ['ipv4-unicast', 'ipv6-unicast'] as const) {
      for (const prefix of t[family].keys()) this.removeFromLoc(family, prefix, source);
      t[family].clear();
    }
    this.adjIn.delete(source.id);
  }

  /** The changes since the last call, oldest first (a prefix may appear several times). */
  takeChanges(): BestChange[] {
    const c = this.changes;
    this.changes = [];
    return c;
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

  /** What a source sent us (its Adj-RIB-In) for a family. */
  adjRibIn(sourceId: string, family: Family): ReadonlyMap<Prefix, Path> {
    return this.adjIn.get(sourceId)?.[family] ?? new Map();
  }
}

function indexOfSource(cands: Path[], source: PathSource): number {
  for (let i = 0; i < cands.length; i++) if (cands[i].source.id === source.id) return i;
  return -1;
}
