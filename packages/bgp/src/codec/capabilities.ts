/**
 * Capabilities inside the OPEN Capabilities optional parameter (RFC 5492 §4): multiprotocol
 * (RFC 4760 §8), route refresh (RFC 2918 §2), graceful restart (RFC 4724 §3) and 4-octet AS
 * (RFC 6793 §3). Others are kept as `{ code, value }` for the session to ignore. A capability
 * whose length is wrong for its code, or that runs past its parameter, is an OPEN Message
 * Error (subcode 0, no data; RFC 5492 defines none, BIRD sends the same).
 */
import type { Capability } from '../types.js';
import type { ByteWriter } from './byte-writer.js';
import { CAP_FOUR_OCTET_AS, CAP_GRACEFUL_RESTART, CAP_MULTIPROTOCOL, CAP_ROUTE_REFRESH, ErrorCode, OpenSubcode } from './constants.js';
import { decodeError } from './decode-error.js';
import { EncodeError } from './encode-error.js';

/** Graceful Restart flag bits (RFC 4724 §3). */
const GR_RESTART_STATE = 0x8000;
const GR_TIME_MASK = 0x0fff;
const GR_FORWARDING_PRESERVED = 0x80;

function malformed(detail: string) {
  return decodeError(ErrorCode.OPEN_MESSAGE, OpenSubcode.UNSPECIFIC, detail);
}

/** Decodes the capabilities in `buf[start, end)` onto `out`. Throws OPEN Message Error / 0. */
export function decodeCapabilities(buf: Uint8Array, start: number, end: number, out: Capability[]): void {
  let pos = start;
  while (pos < end) {
    if (end - pos < 2) throw malformed('truncated capability header');
    const code = buf[pos];
    const len = buf[pos + 1];
    const v = pos + 2;
    if (v + len > end) throw malformed(`capability ${code} length ${len} runs past its parameter`);
    switch (code) {
      case CAP_MULTIPROTOCOL:
        if (len !== 4) throw malformed(`multiprotocol capability length ${len}, must be 4`);
        out.push({ code: CAP_MULTIPROTOCOL, afi: (buf[v] << 8) | buf[v + 1], safi: buf[v + 3] });
        break;
      case CAP_ROUTE_REFRESH:
        if (len !== 0) throw malformed(`route refresh capability length ${len}, must be 0`);
        out.push({ code: CAP_ROUTE_REFRESH });
        break;
      case CAP_GRACEFUL_RESTART: {
        if (len < 2 || (len - 2) % 4 !== 0) throw malformed(`graceful restart capability length ${len}, must be 2 + 4n`);
        const head = (buf[v] << 8) | buf[v + 1];
        const families: { afi: number; safi: number; forwardingPreserved: boolean }[] = [];
        for (let i = v + 2; i < v + len; i += 4) {
          families.push({ afi: (buf[i] << 8) | buf[i + 1], safi: buf[i + 2], forwardingPreserved: (buf[i + 3] & GR_FORWARDING_PRESERVED) !== 0 });
        }
        out.push({ code: CAP_GRACEFUL_RESTART, restarting: (head & GR_RESTART_STATE) !== 0, restartTime: head & GR_TIME_MASK, families });
        break;
      }
      case CAP_FOUR_OCTET_AS:
        if (len !== 4) throw malformed(`4-octet AS capability length ${len}, must be 4`);
        out.push({ code: CAP_FOUR_OCTET_AS, asn: ((buf[v] << 24) | (buf[v + 1] << 16) | (buf[v + 2] << 8) | buf[v + 3]) >>> 0 });
        break;
      default:
        out.push({ code, value: buf.slice(v, v + len) });
    }
    pos = v + len;
  }
}

/** A capability the codec keeps as raw octets (any code it does not interpret). */
export type RawCapability = Extract<Capability, { readonly value: Uint8Array }>;

/** True for a capability kept as `{ code, value }`. */
export function isRawCapability(cap: Capability): cap is RawCapability {
  return 'value' in cap && cap.value instanceof Uint8Array;
}

/** Writes one capability (code, length, value). Throws {@link EncodeError} for values out of range. */
export function encodeCapability(cap: Capability, w: ByteWriter): void {
  if (isRawCapability(cap)) {
    if (cap.code < 0 || cap.code > 255 || cap.value.length > 255) throw new EncodeError(`capability ${cap.code} does not fit`);
    w.u8(cap.code);
    w.u8(cap.value.length);
    w.bytes(cap.value);
    return;
  }
  switch (cap.code) {
    case CAP_MULTIPROTOCOL:
      w.u8(CAP_MULTIPROTOCOL);
      w.u8(4);
      w.u16(cap.afi);
      w.u8(0);
      w.u8(cap.safi);
      return;
    case CAP_ROUTE_REFRESH:
      w.u8(CAP_ROUTE_REFRESH);
      w.u8(0);
      return;
    case CAP_GRACEFUL_RESTART: {
      if (cap.restartTime < 0 || cap.restartTime > GR_TIME_MASK) throw new EncodeError(`graceful restart time ${cap.restartTime} exceeds 12 bits`);
      const len = 2 + 4 * cap.families.length;
      if (len > 255) throw new EncodeError('graceful restart capability has too many families');
      w.u8(CAP_GRACEFUL_RESTART);
      w.u8(len);
      w.u16((cap.restarting ? GR_RESTART_STATE : 0) | cap.restartTime);
      for (const f of cap.families) {
        w.u16(f.afi);
        w.u8(f.safi);
        w.u8(f.forwardingPreserved ? GR_FORWARDING_PRESERVED : 0);
      }
      return;
    }
    case CAP_FOUR_OCTET_AS:
      w.u8(CAP_FOUR_OCTET_AS);
      w.u8(4);
      w.u32(cap.asn);
      return;
  }
}
