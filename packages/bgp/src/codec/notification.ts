/** NOTIFICATION (RFC 4271 §4.5). */
import type { NotificationMessage } from '../types.js';
import { BGP_MARKER, describeNotification, HEADER_LENGTH, MAX_MESSAGE_LENGTH, MessageType } from './constants.js';

/** Decodes a NOTIFICATION frame (header checked, at least 21 octets). The data is copied. */
export function decodeNotification(frame: Uint8Array): NotificationMessage {
  return { type: 'notification', code: frame[19], subcode: frame[20], data: frame.slice(21) };
}

/**
 * Encodes a NOTIFICATION frame. Data that would push the message past 4096 octets is cut
 * (a ROUTE-REFRESH Message Error carries a whole message, which may not fit).
 */
export function encodeNotification(msg: Pick<NotificationMessage, 'code' | 'subcode' | 'data'>): Uint8Array {
  const data = msg.data.subarray(0, MAX_MESSAGE_LENGTH - HEADER_LENGTH - 2);
  const length = HEADER_LENGTH + 2 + data.length;
  const out = new Uint8Array(length);
  out.set(BGP_MARKER, 0);
  out[16] = length >>> 8;
  out[17] = length & 0xff;
  out[18] = MessageType.NOTIFICATION;
  out[19] = msg.code & 0xff;
  out[20] = msg.subcode & 0xff;
  out.set(data, 21);
  return out;
}

/** Log text of a NOTIFICATION: `Cease / Administrative Shutdown`, plus the data length if any. */
export function formatNotification(msg: Pick<NotificationMessage, 'code' | 'subcode' | 'data'>): string {
  const text = describeNotification(msg.code, msg.subcode);
  return msg.data.length > 0 ? `${text} (${msg.data.length} octets of data)` : text;
}
