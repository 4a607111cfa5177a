/**
 * Whole messages: {@link decodeMessage} checks a frame's header and dispatches on its type;
 * {@link encodeMessage} is the inverse. Pure: bytes in, typed message out, and back.
 */
import type { BgpError } from '../errors.js';
import type { BgpMessage } from '../types.js';
import type { Family } from './attributes.js';
import { BGP_MARKER, ErrorCode, HEADER_LENGTH, HeaderSubcode, MessageType } from './constants.js';
import { decodeError, u16Bytes } from './decode-error.js';
import { checkHeader } from './header.js';
import { decodeNotification, encodeNotification } from './notification.js';
import { decodeOpen, encodeOpen } from './open.js';
import type { CodecOptions } from './options.js';
import { decodeRouteRefresh, encodeRouteRefresh } from './route-refresh.js';
import { decodeUpdate, encodeUpdate, type UpdateAction, type UpdateDecodeResult } from './update.js';

/** A decoded message and, for an UPDATE, what RFC 7606 says to do with it. */
export interface MessageDecodeResult {
  readonly message: BgpMessage;
  /** Always `none` except for an UPDATE (see {@link UpdateDecodeResult}). */
  readonly action: UpdateAction;
  readonly disabledFamilies: readonly Family[];
  readonly discarded: readonly number[];
  readonly errors: readonly BgpError[];
  readonly endOfRib?: Family;
  /** With `ipv4Keys`: an UPDATE's IPv4 fields as keys (see {@link UpdateDecodeResult}). */
  readonly ipv4?: UpdateDecodeResult['ipv4'];
}

const NONE: readonly never[] = Object.freeze([]);

function plain(message: BgpMessage): MessageDecodeResult {
  return { message, action: 'none', disabledFamilies: NONE, discarded: NONE, errors: NONE };
}

/**
 * Decodes one whole message (as {@link MessageReader.next} returns it). Throws a
 * {@link BgpError} carrying the NOTIFICATION to send and the action when the message cannot be
 * accepted (Message Header, OPEN, UPDATE session-reset and ROUTE-REFRESH errors); every other
 * outcome is a result. Never throws anything but a BgpError.
 */
export function decodeMessage(frame: Uint8Array, opts: CodecOptions): MessageDecodeResult {
  if (frame.length < HEADER_LENGTH) {
    throw decodeError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH, `frame of ${frame.length} octets is shorter than a header`, u16Bytes(frame.length));
  }
  const { length, type } = checkHeader(frame, 0);
  if (length !== frame.length) {
    throw decodeError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH, `Length field ${length} but frame of ${frame.length} octets`, u16Bytes(length));
  }
  switch (type) {
    case MessageType.OPEN:
      return plain(decodeOpen(frame));
    case MessageType.UPDATE:
      return decodeUpdate(frame, opts);
    case MessageType.NOTIFICATION:
      return plain(decodeNotification(frame));
    case MessageType.KEEPALIVE:
      return plain({ type: 'keepalive' });
    default:
      return plain(decodeRouteRefresh(frame));
  }
}

/** A KEEPALIVE frame (RFC 4271 §4.4): the header alone. */
export function encodeKeepalive(): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH);
  out.set(BGP_MARKER, 0);
  out[17] = HEADER_LENGTH;
  out[18] = MessageType.KEEPALIVE;
  return out;
}

/** Encodes any message into a frame. Throws {@link EncodeError} when the model cannot be encoded. */
export function encodeMessage(msg: BgpMessage, opts: CodecOptions): Uint8Array {
  switch (msg.type) {
    case 'open':
      return encodeOpen(msg);
    case 'update':
      return encodeUpdate(msg, opts);
    case 'notification':
      return encodeNotification(msg);
    case 'keepalive':
      return encodeKeepalive();
    case 'route-refresh':
      return encodeRouteRefresh(msg);
  }
}
