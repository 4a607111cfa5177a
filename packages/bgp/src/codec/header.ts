/**
 * The fixed header (RFC 4271 §4.1) and its checks (RFC 4271 §6.1): marker all ones, Length
 * within 19..4096 and within the type's limits, a known Type. Each failure is a Message Header
 * Error with the data §6.1 prescribes.
 */
import { BGP_MARKER, ErrorCode, HEADER_LENGTH, HeaderSubcode, MARKER_LENGTH, MAX_MESSAGE_LENGTH, MESSAGE_TYPES } from './constants.js';
import { decodeError, u16Bytes } from './decode-error.js';

/** What a valid header says. */
export interface Header {
  /** The whole message length, header included. */
  readonly length: number;
  readonly type: number;
}

/**
 * Checks the header at `buf[offset, offset + 19)` and returns its length and type. Throws a
 * {@link BgpError} (session-reset): Connection Not Synchronized when the marker is not all ones;
 * Bad Message Length (data: the Length field) when the length is outside 19..4096 or the
 * type's limits; Bad Message Type (data: the Type field) for an unknown type.
 */
export function checkHeader(buf: Uint8Array, offset: number): Header {
  for (let i = 0; i < MARKER_LENGTH; i++) {
    if (buf[offset + i] !== 0xff) {
      throw decodeError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, 'marker is not all ones');
    }
  }
  const length = (buf[offset + 16] << 8) | buf[offset + 17];
  const type = buf[offset + 18];
  if (length < HEADER_LENGTH || length > MAX_MESSAGE_LENGTH) {
    throw decodeError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH, `length ${length} outside ${HEADER_LENGTH}..${MAX_MESSAGE_LENGTH}`, u16Bytes(length));
  }
  const info = MESSAGE_TYPES.get(type);
  if (!info) {
    throw decodeError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_TYPE, `unknown message type ${type}`, Uint8Array.of(type));
  }
  if (length < info.minLength || length > info.maxLength) {
    const want = info.minLength === info.maxLength ? `exactly ${info.minLength}` : `at least ${info.minLength}`;
    throw decodeError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH, `${info.name} length ${length}, must be ${want}`, u16Bytes(length));
  }
  return { length, type };
}

/** Writes a header for a message of `length` octets and `type` into `buf` at 0. */
export function writeHeader(buf: Uint8Array, length: number, type: number): void {
  buf.set(BGP_MARKER, 0);
  buf[16] = (length >>> 8) & 0xff;
  buf[17] = length & 0xff;
  buf[18] = type;
}
