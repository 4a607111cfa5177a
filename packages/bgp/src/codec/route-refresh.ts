/**
 * ROUTE-REFRESH (RFC 2918 §3): AFI, a reserved octet (the Message Subtype of RFC 7313 §3),
 * SAFI. A message longer than 23 octets is a ROUTE-REFRESH Message Error / Invalid Message
 * Length carrying the whole message (RFC 7313 §5); a shorter one never gets here (the header
 * check calls it a Bad Message Length, as BIRD does).
 */
import type { RouteRefreshMessage } from '../types.js';
import { BGP_MARKER, ErrorCode, MessageType, RouteRefreshSubcode, RouteRefreshSubtype } from './constants.js';
import { decodeError } from './decode-error.js';
import { EncodeError } from './encode-error.js';

/** Length of every ROUTE-REFRESH: header plus 4 octets. */
export const ROUTE_REFRESH_LENGTH = 23;

/**
 * Decodes a ROUTE-REFRESH frame. The RFC 7313 subtype is not part of the model: read it with
 * {@link routeRefreshSubtype} (a speaker without Enhanced Route Refresh treats it as 0).
 * Throws a {@link BgpError} (session-reset) when the message is longer than 23 octets.
 */
export function decodeRouteRefresh(frame: Uint8Array): RouteRefreshMessage {
  if (frame.length !== ROUTE_REFRESH_LENGTH) {
    throw decodeError(ErrorCode.ROUTE_REFRESH_MESSAGE, RouteRefreshSubcode.INVALID_MESSAGE_LENGTH, `ROUTE-REFRESH of ${frame.length} octets, must be 23`, frame);
  }
  return { type: 'route-refresh', afi: (frame[19] << 8) | frame[20], safi: frame[22] };
}

/** The Message Subtype octet of a ROUTE-REFRESH frame (RFC 7313 §3: 0 request, 1 BoRR, 2 EoRR). */
export function routeRefreshSubtype(frame: Uint8Array): number {
  return frame[21];
}

/** Encodes a ROUTE-REFRESH frame (subtype 0, a plain request). */
export function encodeRouteRefresh(msg: Pick<RouteRefreshMessage, 'afi' | 'safi'>, subtype: number = RouteRefreshSubtype.REQUEST): Uint8Array {
  if (msg.afi < 0 || msg.afi > 0xffff || msg.safi < 0 || msg.safi > 0xff) throw new EncodeError(`AFI/SAFI ${msg.afi}/${msg.safi} out of range`);
  const out = new Uint8Array(ROUTE_REFRESH_LENGTH);
  out.set(BGP_MARKER, 0);
  out[17] = ROUTE_REFRESH_LENGTH;
  out[18] = MessageType.ROUTE_REFRESH;
  out[19] = msg.afi >>> 8;
  out[20] = msg.afi & 0xff;
  out[21] = subtype & 0xff;
  out[22] = msg.safi;
  return out;
}
