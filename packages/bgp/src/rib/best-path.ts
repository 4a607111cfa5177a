import { AS_CONFED_SEQUENCE, AS_CONFED_SET, AS_SET, type PathAttributes } from '../types.js';
import type { PathSource } from './source.js';

/** A candidate path for one prefix: its (shared) attributes and where it came from. */
export interface Path {
  readonly attrs: PathAttributes;
  readonly source: PathSource;
}

/**
 * The decision steps, in order (RFC 4271 §9.1.2.2 with RFC 4456 §9), as data: tests and
 * docs read this table. Each step keeps the candidates that are best by its criterion.
 */
export const DECISION_STEPS = [
  { reason: 'only-path', description: 'the only path for the prefix' },
  { reason: 'local-origin', description: 'originated by this speaker' },
  { reason: 'local-pref', description: 'highest LOCAL_PREF (100 when absent)' },
  { reason: 'as-path-length', description: 'shortest AS_PATH (an AS_SET counts as one, confederation segments as none)' },
  { reason: 'origin', description: 'lowest ORIGIN (IGP < EGP < INCOMPLETE)' },
  { reason: 'med', description: 'lowest MULTI_EXIT_DISC among paths from the same neighbouring AS (0 when absent)' },
  { reason: 'ebgp-over-ibgp', description: 'learned over eBGP rather than iBGP' },
  { reason: 'router-id', description: 'lowest BGP Identifier of the originator (ORIGINATOR_ID when present)' },
  { reason: 'cluster-list-length', description: 'shortest CLUSTER_LIST' },
  { reason: 'peer-address', description: 'lowest peer address' },
] as const;

export type DecisionReason = (typeof DECISION_STEPS)[number]['reason'];

export const DEFAULT_LOCAL_PREF = 100;

/** AS_PATH length for the decision: sequences count their ASes, an AS_SET counts one, confederation segments none. */
export function asPathLength(attrs: PathAttributes): number {
  let n = 0;
  for (const seg of attrs.asPath ?? []) {
    if (seg.type === AS_SET) n += 1;
    else if (seg.type === AS_CONFED_SEQUENCE || seg.type === AS_CONFED_SET) continue;
    else n += seg.asns.length;
  }
  return n;
}

/** The neighbouring AS of a path: the first AS of the AS_PATH (0 for local or empty paths). */
export function neighborAs(attrs: PathAttributes): number {
  for (const seg of attrs.asPath ?? []) {
    if (seg.type === AS_CONFED_SEQUENCE || seg.type === AS_CONFED_SET) continue;
    return seg.asns[0] ?? 0;
  }
  return 0;
}

function ipv4Value(a: string): number {
  const p = a.split('.');
  return p.length === 4 ? ((Number(p[0]) << 24) >>> 0) + (Number(p[1]) << 16) + (Number(p[2]) << 8) + Number(p[3]) : 0;
}

function compareAddress(a: string, b: string): number {
  if (a.includes(':') || b.includes(':')) {
    const expand = (x: string): string => {
      if (!x.includes(':')) return `0:${x}`;
      const [head, tail] = x.split('::');
      const h = head ? head.split(':') : [];
      const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
      const mid = x.includes('::') ? Array.from({ length: 8 - h.length - t.length }, () => '0') : [];
      return [...h, ...mid, ...t].map((g) => g.padStart(4, '0')).join(':');
    };
    const ea = expand(a);
    const eb = expand(b);
    return ea < eb ? -1 : ea > eb ? 1 : 0;
  }
  return ipv4Value(a) - ipv4Value(b);
}

function keepBest(cands: Path[], score: (p: Path) => number, higherWins: boolean): Path[] {
  let best = higherWins ? -Infinity : Infinity;
  for (const c of cands) {
    const s = score(c);
    if (higherWins ? s > best : s < best) best = s;
  }
  return cands.filter((c) => score(c) === best);
}

/** The winner among candidates and the step that decided it. */
export interface Decision {
  readonly best: Path;
  readonly reason: DecisionReason;
}

/**
 * Selects the best path (RFC 4271 §9.1.2.2, RFC 4456 §9). Candidates are eliminated step
 * by step; the reason is the step that removed the last competitor. Deterministic for a
 * given set of candidates, whatever their order.
 */
export function selectBest(candidates: readonly Path[]): Decision {
  if (candidates.length === 0) throw new Error('selectBest needs at least one path');
  if (candidates.length === 1) return { best: candidates[0], reason: 'only-path' };
  let c: Path[] = [...candidates];
  const step = (reason: DecisionReason, next: Path[]): Decision | undefined => {
    c = next;
    return c.length === 1 ? { best: c[0], reason } : undefined;
  };
  return (
    step('local-origin', c.some((p) => p.source.kind === 'local') ? c.filter((p) => p.source.kind === 'local') : c) ??
    step('local-pref', keepBest(c, (p) => p.attrs.localPref ?? DEFAULT_LOCAL_PREF, true)) ??
    step('as-path-length', keepBest(c, (p) => asPathLength(p.attrs), false)) ??
    step('origin', keepBest(c, (p) => p.attrs.origin ?? 2, false)) ??
    step(
      'med',
      c.filter((p) => {
        const nas = neighborAs(p.attrs);
        const med = p.attrs.med ?? 0;
        return !c.some((q) => q !== p && neighborAs(q.attrs) === nas && (q.attrs.med ?? 0) < med);
      }),
    ) ??
    step('ebgp-over-ibgp', c.some((p) => !p.source.ibgp && p.source.kind === 'peer') ? c.filter((p) => !p.source.ibgp) : c) ??
    step('router-id', keepBest(c, (p) => ipv4Value(p.attrs.originatorId ?? p.source.routerId), false)) ??
    step('cluster-list-length', keepBest(c, (p) => p.attrs.clusterList?.length ?? 0, false)) ?? {
      best: [...c].sort((a, b) => compareAddress(a.source.address, b.source.address))[0],
      reason: 'peer-address',
    }
  );
}
