/**
 * The BGP-4 wire codec: pure functions from bytes to the model of `../types.ts` and back, a
 * resumable framing reader, and the tables (NOTIFICATION codes, path attribute descriptors)
 * they are driven by. No sockets, timers or logging.
 *
 * Contracts:
 * - Decoders throw only {@link BgpError}: the NOTIFICATION (code, subcode, data) to send and
 *   its RFC 7606 action. UPDATE problems short of a session reset come back in the result.
 * - Encoders throw only {@link EncodeError}, for models that cannot be put on the wire.
 * - Prefixes and addresses are canonical text both ways (see address.ts, prefix.ts).
 *
 * RFCs: 4271, 4760, 2545, 6793, 7606, 1997, 4456, 2918, 7313, 4724, 5492, 5065, 6286, 4486.
 */
export {
  AFI_IPV4,
  AFI_IPV6,
  AS_TRANS,
  AttrFlag,
  AttrType,
  BGP_MARKER,
  BGP_VERSION,
  CAP_FOUR_OCTET_AS,
  CAP_GRACEFUL_RESTART,
  CAP_MULTIPROTOCOL,
  CAP_ROUTE_REFRESH,
  CeaseSubcode,
  ErrorCode,
  FsmSubcode,
  HEADER_LENGTH,
  HeaderSubcode,
  MARKER_LENGTH,
  MAX_MESSAGE_LENGTH,
  MESSAGE_TYPES,
  MessageType,
  NOTIFICATION_TABLE,
  ORIGIN_NAMES,
  OpenSubcode,
  OptionalParameterType,
  RouteRefreshSubcode,
  RouteRefreshSubtype,
  SAFI_MULTICAST,
  SAFI_UNICAST,
  UpdateSubcode,
  WellKnownCommunity,
  describeNotification,
  type MessageTypeInfo,
  type NotificationCodeInfo,
} from './constants.js';
export { EncodeError, isEncodeError } from './encode-error.js';
export { canonicalAddress, formatIpv4, formatIpv6, parseAddress, parseIpv4, parseIpv6, type ParsedAddress } from './address.js';
export { canonicalPrefix, decodePrefixes, encodePrefix, formatPrefix, ipv4Key, ipv4KeyAddress, ipv4KeyLength, ipv4KeyOf, ipv4KeyText, parsePrefix, prefixAfi, type Ipv4Key, type ParsedPrefix } from './prefix.js';
export { checkHeader, type Header } from './header.js';
export { MessageReader } from './reader.js';
export { isRawCapability, type RawCapability } from './capabilities.js';
export { checkPeerAs, decodeOpen, encodeOpen, fourOctetAsOf, peerAsOf } from './open.js';
export { asPathContains, asPathLength, formatAsPath, mergeAs4Path } from './as-path.js';
export type { AttributeCategory, AttributeContext, AttributeDescriptor, AttributeDraft, AttributeProblem, AttributeSource } from './attribute-model.js';
export { ATTRIBUTE_TABLE, attributeDescriptor, attributeName, formatAttributes, formatCommunity, formatLargeCommunity } from './attribute-table.js';
export type { Family } from './attributes.js';
export type { CodecOptions } from './options.js';
export {
  decodeUpdate,
  encodeEndOfRib,
  encodeUpdate,
  encodeUpdates,
  endOfRibFamily,
  isEndOfRib,
  type RouteBatch,
  type UpdateAction,
  type UpdateDecodeResult,
} from './update.js';
export { decodeNotification, encodeNotification, formatNotification } from './notification.js';
export { ROUTE_REFRESH_LENGTH, decodeRouteRefresh, encodeRouteRefresh, routeRefreshSubtype } from './route-refresh.js';
export { decodeMessage, encodeKeepalive, encodeMessage, type MessageDecodeResult } from './message.js';
