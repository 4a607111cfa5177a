/**
 * NOTIFICATIONs the FSM itself sends (RFC 4271 §4.5, §6; Cease subcodes RFC 4486; FSM Error
 * subcodes RFC 6608). Message errors are sent with the spec the codec put in the event.
 */
import type { NotificationSpec } from '../errors.js';
import type { FsmState } from './types.js';

const EMPTY = new Uint8Array(0);

/** Error code 4: Hold Timer Expired (RFC 4271 §6.5). */
export const HOLD_TIMER_EXPIRED: NotificationSpec = { code: 4, subcode: 0, data: EMPTY };
/** Cease / Administrative Shutdown (RFC 4486 §4): sent on ManualStop. */
export const CEASE_ADMINISTRATIVE_SHUTDOWN: NotificationSpec = { code: 6, subcode: 2, data: EMPTY };
/** Cease without subcode: sent on AutomaticStop unless the event names one. */
export const CEASE: NotificationSpec = { code: 6, subcode: 0, data: EMPTY };
/** Cease / Connection Collision Resolution (RFC 4486 §4): sent on OpenCollisionDump. */
export const CEASE_CONNECTION_COLLISION: NotificationSpec = { code: 6, subcode: 7, data: EMPTY };
/** OPEN Message Error / Unacceptable Hold Time (RFC 4271 §6.2). */
export const OPEN_UNACCEPTABLE_HOLD_TIME: NotificationSpec = { code: 2, subcode: 6, data: EMPTY };

/**
 * Finite State Machine Error (code 5) with the RFC 6608 subcode for the state the unexpected
 * event arrived in: 1 OpenSent, 2 OpenConfirm, 3 Established, 0 elsewhere.
 */
export function fsmError(state: FsmState): NotificationSpec {
  const subcode = state === 'OpenSent' ? 1 : state === 'OpenConfirm' ? 2 : state === 'Established' ? 3 : 0;
  return { code: 5, subcode, data: EMPTY };
}
