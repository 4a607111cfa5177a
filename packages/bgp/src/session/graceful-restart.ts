/**
 * Graceful restart (RFC 4724) decisions, kept pure so they are tested without sockets: the
 * capability we send (§3), which of a peer's routes to retain when its session ends (§4.2),
 * and which retained (stale) routes must go at once when it comes back (§4.2).
 */
import { CAP_GRACEFUL_RESTART, SAFI_UNICAST, type Capability, type Family, type OpenMessage } from '../types.js';
import { AFI_OF, FAMILIES, familyOf } from './families.js';

/** The Graceful Restart capability as the codec models it. */
export type GracefulRestartCapability = Extract<Capability, { readonly code: 64 }>;

/**
 * Upper bound on how long a re-established peer's stale routes wait for its End-of-RIB
 * (RFC 4724 §4.2 allows such a timer; FRR's stalepath-time has the same default).
 */
export const STALE_ROUTES_LIMIT_S = 360;

/** Our side of graceful restart, as the speaker is configured and told. */
export interface LocalGracefulRestart {
  /** Restart State bit (R): we restarted and have not converged yet. */
  readonly restarting: boolean;
  /** Forwarding State bit (F) of every family: our forwarding state survives a restart. */
  readonly forwardingPreserved: boolean;
}

/** The capability we advertise (RFC 4724 §3); none when the restart time is 0. */
export function ourGracefulRestartCapability(families: readonly Family[], restartTimeS: number, local: LocalGracefulRestart): GracefulRestartCapability | undefined {
  if (restartTimeS <= 0) return undefined;
  return {
    code: CAP_GRACEFUL_RESTART,
    restarting: local.restarting,
    restartTime: Math.min(restartTimeS, 4095),
    families: families.map((f) => ({ afi: AFI_OF[f], safi: SAFI_UNICAST, forwardingPreserved: local.forwardingPreserved })),
  };
}

/** The Graceful Restart capability of an OPEN, if it carries one. */
export function gracefulRestartOf(open: OpenMessage | undefined): GracefulRestartCapability | undefined {
  return open?.capabilities.find((c): c is GracefulRestartCapability => c.code === CAP_GRACEFUL_RESTART);
}

/** The families a capability lists, each with its Forwarding State bit. */
export function capabilityFamilies(cap: GracefulRestartCapability | undefined): Map<Family, boolean> {
  const out = new Map<Family, boolean>();
  for (const f of cap?.families ?? []) {
    const family = familyOf(f.afi, f.safi);
    if (family) out.set(family, f.forwardingPreserved);
  }
  return out;
}

/**
 * The session with a peer ended by a TCP failure (no NOTIFICATION): the families whose routes
 * are retained as stale, those the peer listed in the Graceful Restart capability it sent for
 * that session (RFC 4724 §4.2). None when it sent no capability or a restart time of 0.
 */
export function familiesToRetain(previous: GracefulRestartCapability | undefined, negotiated: readonly Family[]): Family[] {
  if (!previous || previous.restartTime === 0) return [];
  const listed = capabilityFamilies(previous);
  return FAMILIES.filter((f) => negotiated.includes(f) && listed.has(f));
}

/**
 * The peer is back: the families whose stale routes go at once (RFC 4724 §4.2), because its
 * new OPEN has no Graceful Restart capability, does not list the family, or lists it with the
 * Forwarding State bit clear; or because the family is no longer negotiated (no End-of-RIB
 * would ever come for it). The others stay stale until End-of-RIB or the stale-routes limit.
 */
export function staleFamiliesToFlush(current: GracefulRestartCapability | undefined, negotiated: readonly Family[]): Family[] {
  const listed = capabilityFamilies(current);
  return FAMILIES.filter((f) => !negotiated.includes(f) || listed.get(f) !== true);
}
