/**
 * Connection collision (RFC 4271 §6.8): which of two connections to the same peer survives,
 * and how a second (inbound) connection gets its own FSM instance until that is decided.
 */
import { FsmInvariantError } from './errors.js';
import { initialSnapshot, step } from './step.js';
import type { FsmSnapshot, FsmStep } from './types.js';

/** Which connection to close: the one we initiated, or the one the peer initiated. */
export type CollisionResolution = 'close-outbound' | 'close-inbound';

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * A BGP Identifier in dotted-quad form as a 32-bit unsigned integer (host byte order, as
 * RFC 4271 §6.8 compares them), or null when `id` is not a dotted quad.
 */
export function bgpIdentifierToUint32(id: string): number | null {
  const m = DOTTED_QUAD.exec(id);
  if (m === null) return null;
  let value = 0;
  for (const part of m.slice(1)) {
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/**
 * RFC 4271 §6.8: the connection initiated by the speaker with the higher BGP Identifier
 * (compared as 32-bit unsigned integers) is kept. Local higher → `close-inbound`; remote
 * higher → `close-outbound`.
 *
 * Equal identifiers cannot collide: the codec rejects an OPEN carrying our own identifier
 * (2/3 Bad BGP Identifier), and RFC 6286's AS-number tie-break for equal identifiers is not
 * supported. Throws FsmInvariantError for equal or malformed identifiers.
 */
export function resolveCollision(localBgpId: string, remoteBgpId: string): CollisionResolution {
  const local = bgpIdentifierToUint32(localBgpId);
  const remote = bgpIdentifierToUint32(remoteBgpId);
  if (local === null || remote === null) {
    throw new FsmInvariantError(`malformed BGP Identifier: ${local === null ? localBgpId : remoteBgpId}`);
  }
  if (local === remote) throw new FsmInvariantError(`equal BGP Identifiers cannot collide: ${localBgpId}`);
  return local > remote ? 'close-inbound' : 'close-outbound';
}

/**
 * A second FSM instance for an inbound connection that arrived while `primary` is in OpenSent
 * or OpenConfirm: same configuration and backoff count, already in OpenSent with our OPEN to
 * send (reported as Active → OpenSent, tcp-accepted). The driver runs it beside the primary
 * until one of them loses the collision (see the module documentation).
 */
export function startCollisionCandidate(primary: FsmSnapshot): FsmStep {
  const waiting: FsmSnapshot = {
    ...initialSnapshot(primary.config),
    state: 'Active',
    consecutiveFailures: primary.consecutiveFailures,
  };
  return step(waiting, { type: 'TcpConnectionConfirmed' });
}
