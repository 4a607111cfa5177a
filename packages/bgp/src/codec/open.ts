/**
 * OPEN (RFC 4271 §4.2) with the Capabilities optional parameter (RFC 5492 §4). Decoding checks
 * what the message alone can tell (RFC 4271 §6.2): the version, a Hold Time of 1 or 2
 * seconds, a zero BGP Identifier (RFC 6286 §2.2: any non-zero value is valid), optional
 * parameters other than Capabilities, and capability lengths. Whether the peer's AS is the
 * expected one is the session's call: {@link checkPeerAs} builds the error.
 */
import type { BgpError } from '../errors.js';
import type { Capability, OpenMessage } from '../types.js';
import { formatIpv4, parseIpv4 } from './address.js';
import { ByteWriter } from './byte-writer.js';
import { decodeCapabilities, encodeCapability } from './capabilities.js';
import {
  BGP_MARKER,
  BGP_VERSION,
  CAP_FOUR_OCTET_AS,
  ErrorCode,
  HEADER_LENGTH,
  HeaderSubcode,
  MessageType,
  OpenSubcode,
  OptionalParameterType,
} from './constants.js';
import { decodeError, u16Bytes } from './decode-error.js';
import { EncodeError } from './encode-error.js';

/** Offset of the first octet after the fixed OPEN fields (version .. Opt Parm Len). */
const OPTIONS_OFFSET = 29;

/**
 * Decodes an OPEN frame (header included, already framed). Throws a {@link BgpError}
 * (session-reset): Message Header Error / Bad Message Length when Opt Parm Len disagrees with
 * the message length; OPEN Message Error / Unsupported Version Number (data: 0x0004, the
 * largest version supported), Unacceptable Hold Time (1 or 2), Bad BGP Identifier (0.0.0.0),
 * Unsupported Optional Parameter (any type but 2), or Unspecific (0) for a malformed
 * parameter or capability.
 */
export function decodeOpen(frame: Uint8Array): OpenMessage {
  const length = frame.length;
  if (length < OPTIONS_OFFSET || frame[28] + OPTIONS_OFFSET !== length) {
    throw decodeError(ErrorCode.MESSAGE_HEADER, HeaderSubcode.BAD_MESSAGE_LENGTH, `OPEN length ${length} disagrees with Opt Parm Len`, u16Bytes(length));
  }
  const version = frame[19];
  if (version !== BGP_VERSION) {
    // RFC 4271 §6.2: data is the largest locally supported version number, 2 octets.
    throw decodeError(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSUPPORTED_VERSION_NUMBER, `version ${version}`, u16Bytes(BGP_VERSION));
  }
  const myAs = (frame[20] << 8) | frame[21];
  const holdTime = (frame[22] << 8) | frame[23];
  if (holdTime === 1 || holdTime === 2) {
    // RFC 4271 §6.2: "An implementation MUST reject Hold Time values of one or two seconds."
    throw decodeError(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNACCEPTABLE_HOLD_TIME, `hold time ${holdTime}`);
  }
  if ((frame[24] | frame[25] | frame[26] | frame[27]) === 0) {
    // RFC 6286 §2.2: the BGP Identifier is a non-zero 4-octet value.
    throw decodeError(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_BGP_IDENTIFIER, 'BGP Identifier 0.0.0.0');
  }
  const bgpId = formatIpv4(frame, 24);
  const capabilities: Capability[] = [];
  let pos = OPTIONS_OFFSET;
  while (pos < length) {
    if (length - pos < 2) throw decodeError(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSPECIFIC, 'truncated optional parameter');
    const type = frame[pos];
    const plen = frame[pos + 1];
    if (pos + 2 + plen > length) throw decodeError(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSPECIFIC, `optional parameter ${type} runs past Opt Parm Len`);
    if (type !== OptionalParameterType.CAPABILITIES) {
      throw decodeError(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, `optional parameter type ${type}`);
    }
    decodeCapabilities(frame, pos + 2, pos + 2 + plen, capabilities);
    pos += 2 + plen;
  }
  return { type: 'open', version, myAs, holdTime, bgpId, capabilities };
}

/**
 * Encodes an OPEN frame. Capabilities go in Capabilities parameters of up to 255 octets each
 * (several when needed). Throws {@link EncodeError} when a field is out of range or the
 * parameters exceed 255 octets.
 */
export function encodeOpen(msg: OpenMessage): Uint8Array {
  if (!Number.isInteger(msg.myAs) || msg.myAs < 0 || msg.myAs > 0xffff) throw new EncodeError(`My Autonomous System ${msg.myAs} does not fit 2 octets (use AS_TRANS)`);
  if (!Number.isInteger(msg.holdTime) || msg.holdTime < 0 || msg.holdTime > 0xffff) throw new EncodeError(`hold time ${msg.holdTime} out of range`);
  const id = parseIpv4(msg.bgpId);
  if (!id) throw new EncodeError(`BGP Identifier ${msg.bgpId} is not a dotted quad`);
  const params = new ByteWriter(64);
  let param = new ByteWriter(64);
  const flush = (): void => {
    if (param.length === 0) return;
    params.u8(OptionalParameterType.CAPABILITIES);
    params.u8(param.length);
    params.bytes(param.finish());
    param = new ByteWriter(64);
  };
  for (const cap of msg.capabilities) {
    const one = new ByteWriter(16);
    encodeCapability(cap, one);
    if (param.length + one.length > 255) flush();
    param.bytes(one.finish());
  }
  flush();
  if (params.length > 255) throw new EncodeError(`optional parameters take ${params.length} octets, more than 255`);
  const length = HEADER_LENGTH + 10 + params.length;
  const out = new Uint8Array(length);
  out.set(BGP_MARKER, 0);
  out[16] = length >>> 8;
  out[17] = length & 0xff;
  out[18] = MessageType.OPEN;
  out[19] = msg.version & 0xff;
  out[20] = msg.myAs >>> 8;
  out[21] = msg.myAs & 0xff;
  out[22] = msg.holdTime >>> 8;
  out[23] = msg.holdTime & 0xff;
  out.set(id, 24);
  out[28] = params.length;
  out.set(params.finish(), 29);
  return out;
}

/** The 4-octet AS capability's AS number, when the OPEN carries one (RFC 6793 §3). */
export function fourOctetAsOf(open: OpenMessage): number | undefined {
  for (const cap of open.capabilities) {
    if (cap.code === CAP_FOUR_OCTET_AS && 'asn' in cap) return cap.asn;
  }
  return undefined;
}

/**
 * The peer's AS number: the 4-octet AS capability's value when present (RFC 6793 §4.1), else
 * My Autonomous System.
 */
export function peerAsOf(open: OpenMessage): number {
  return fourOctetAsOf(open) ?? open.myAs;
}

/**
 * The Bad Peer AS check (RFC 4271 §6.2, RFC 6793 §4.1): an OPEN Message Error / Bad Peer AS
 * (session-reset, no data) when the peer's AS ({@link peerAsOf}) is not `expectedAs`;
 * undefined when it is.
 */
export function checkPeerAs(open: OpenMessage, expectedAs: number): BgpError | undefined {
  const peerAs = peerAsOf(open);
  if (peerAs === expectedAs) return undefined;
  return decodeError(ErrorCode.OPEN_MESSAGE, OpenSubcode.BAD_PEER_AS, `peer AS ${peerAs}, expected ${expectedAs}`);
}
