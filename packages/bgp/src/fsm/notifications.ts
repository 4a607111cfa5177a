/**
 * NOTIFICATIONs the FSM itself sends (RFC 4271 §4.5, §6; Cease subcodes RFC 4486; FSM Error
 * subcodes RFC 6608). Message errors are sent with the spec the codec put in the event.
 */
import { CeaseSubcode, ErrorCode, FsmSubcode, OpenSubcode } from '../codec/constants.js';
import type { NotificationSpec } from '../errors.js';
import type { FsmState } from './types.js';

const EMPTY = new Uint8Array(0);

/** Error code 4: Hold Timer Expired (RFC 4271 §6.5). */
export const HOLD_TIMER_EXPIRED: NotificationSpec = { code: ErrorCode.HOLD_TIMER_EXPIRED, subcode: 0, data: EMPTY };
/** Cease / Administrative Shutdown (RFC 4486 §4): sent on ManualStop. */
export const CEASE_ADMINISTRATIVE_SHUTDOWN: NotificationSpec = { code: ErrorCode.CEASE, subcode: CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, data: EMPTY };
/** Cease without subcode: sent on AutomaticStop unless the event names one. */
export const CEASE: NotificationSpec = { code: ErrorCode.CEASE, subcode: 0, data: EMPTY };
/** Cease / Connection Collision Resolution (RFC 4486 §4): sent on OpenCollisionDump. */
export const CEASE_CONNECTION_COLLISION: NotificationSpec = { code: ErrorCode.CEASE, subcode: CeaseSubcode.CONNECTION_COLLISION_RESOLUTION, data: EMPTY };
/** OPEN Message Error / Unacceptable Hold Time (RFC 4271 §6.2). */
export const OPEN_UNACCEPTABLE_HOLD_TIME: NotificationSpec = { code: ErrorCode.OPEN_MESSAGE, subcode: OpenSubcode.UNACCEPTABLE_HOLD_TIME, data: EMPTY };

/**
 * Finite State Machine Error (code 5) with the RFC 6608 subcode for the state the unexpected
 * event arrived in: 1 OpenSent, 2 OpenConfirm, 3 Established, 0 elsewhere.
 */
export function fsmError(state: FsmState): NotificationSpec {
  const subcode =
    state === 'OpenSent'
      ? FsmSubcode.UNEXPECTED_MESSAGE_IN_OPEN_SENT
      : state === 'OpenConfirm'
        ? FsmSubcode.UNEXPECTED_MESSAGE_IN_OPEN_CONFIRM
        : state === 'Established'
          ? FsmSubcode.UNEXPECTED_MESSAGE_IN_ESTABLISHED
          : FsmSubcode.UNSPECIFIED;
  return { code: ErrorCode.FSM, subcode, data: EMPTY };
}
