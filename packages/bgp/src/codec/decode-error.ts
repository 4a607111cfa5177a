/**
 * Builders for the {@link BgpError}s the decoders throw or report: each names the NOTIFICATION
 * (code, subcode, data) and the RFC 7606 action, and its message starts with the
 * {@link describeNotification} text so logs read the same everywhere.
 */
import { BgpError, type ErrorAction } from '../errors.js';
import { describeNotification } from './constants.js';

const EMPTY = new Uint8Array(0);

/**
 * A decode error ready for the wire. `data` is copied so the error never aliases a reader's
 * buffer.
 */
export function decodeError(
  code: number,
  subcode: number,
  detail: string,
  data: Uint8Array = EMPTY,
  action: ErrorAction = 'session-reset',
): BgpError {
  return new BgpError(`${describeNotification(code, subcode)}: ${detail}`, { code, subcode, data: data.length === 0 ? EMPTY : data.slice() }, action);
}

/** Two octets, big-endian, for NOTIFICATION data fields such as a bad length. */
export function u16Bytes(value: number): Uint8Array {
  return Uint8Array.of((value >>> 8) & 0xff, value & 0xff);
}
