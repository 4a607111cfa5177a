/**
 * Wire constants of BGP-4: message types, NOTIFICATION codes and subcodes (one table with
 * their names, {@link NOTIFICATION_TABLE}), path attribute type codes and flags, address
 * families, capability codes, AS_TRANS and the header marker.
 *
 * References: RFC 4271 §4 (messages) and §4.5 (NOTIFICATION codes), RFC 4486 and RFC 8538 /
 * RFC 9384 (Cease subcodes), RFC 6608 (FSM Error subcodes), RFC 5492 (Unsupported Capability),
 * RFC 7313 (ROUTE-REFRESH Message Error), RFC 4760 (AFI/SAFI), RFC 6793 (AS_TRANS).
 */
import { AFI_IPV4, AFI_IPV6, CAP_FOUR_OCTET_AS, CAP_GRACEFUL_RESTART, CAP_MULTIPROTOCOL, CAP_ROUTE_REFRESH, SAFI_UNICAST } from '../types.js';

export { AFI_IPV4, AFI_IPV6, SAFI_UNICAST, CAP_MULTIPROTOCOL, CAP_ROUTE_REFRESH, CAP_GRACEFUL_RESTART, CAP_FOUR_OCTET_AS };

/** The only BGP version spoken (RFC 4271 §4.2). */
export const BGP_VERSION = 4;
/** Length of the fixed header: 16-octet marker, 2-octet length, 1-octet type (RFC 4271 §4.1). */
export const HEADER_LENGTH = 19;
/** Length of the marker field. */
export const MARKER_LENGTH = 16;
/** Largest message without the Extended Message capability (RFC 4271 §4.1). */
export const MAX_MESSAGE_LENGTH = 4096;
/** The header marker: 16 octets of all ones (RFC 4271 §4.1). Never mutate it. */
export const BGP_MARKER: Readonly<Uint8Array> = new Uint8Array(MARKER_LENGTH).fill(0xff);
/** The reserved 2-octet AS number standing in for a 4-octet one (RFC 6793 §9). */
export const AS_TRANS = 23456;
/** SAFI for multicast (RFC 4760); Tabby carries unicast only. */
export const SAFI_MULTICAST = 2;

/** Message type codes (RFC 4271 §4.1, RFC 2918 §3). */
export const MessageType = {
  OPEN: 1,
  UPDATE: 2,
  NOTIFICATION: 3,
  KEEPALIVE: 4,
  ROUTE_REFRESH: 5,
} as const;

/** One message type: its name and the lengths its header may declare. */
export interface MessageTypeInfo {
  readonly type: number;
  readonly name: string;
  /** Smallest legal Length field; a shorter one is Message Header Error / Bad Message Length. */
  readonly minLength: number;
  /** Largest legal Length field. */
  readonly maxLength: number;
  readonly reference: string;
}

/**
 * Message types with their length limits (RFC 4271 §4.2–§4.5, §6.1; RFC 2918 §3). A
 * ROUTE-REFRESH longer than 23 octets is not a header error: RFC 7313 §5 answers it with
 * ROUTE-REFRESH Message Error / Invalid Message Length, raised when the message is decoded.
 */
export const MESSAGE_TYPES: ReadonlyMap<number, MessageTypeInfo> = new Map(
  (
    [
      { type: MessageType.OPEN, name: 'OPEN', minLength: 29, maxLength: MAX_MESSAGE_LENGTH, reference: 'RFC 4271 §4.2' },
      { type: MessageType.UPDATE, name: 'UPDATE', minLength: 23, maxLength: MAX_MESSAGE_LENGTH, reference: 'RFC 4271 §4.3' },
      { type: MessageType.NOTIFICATION, name: 'NOTIFICATION', minLength: 21, maxLength: MAX_MESSAGE_LENGTH, reference: 'RFC 4271 §4.5' },
      { type: MessageType.KEEPALIVE, name: 'KEEPALIVE', minLength: 19, maxLength: 19, reference: 'RFC 4271 §4.4' },
      { type: MessageType.ROUTE_REFRESH, name: 'ROUTE-REFRESH', minLength: 23, maxLength: MAX_MESSAGE_LENGTH, reference: 'RFC 2918 §3, RFC 7313 §5' },
    ] as const
  ).map((t) => [t.type, t]),
);

/** NOTIFICATION error codes (RFC 4271 §4.5, RFC 7313 §5). */
export const ErrorCode = {
  MESSAGE_HEADER: 1,
  OPEN_MESSAGE: 2,
  UPDATE_MESSAGE: 3,
  HOLD_TIMER_EXPIRED: 4,
  FSM: 5,
  CEASE: 6,
  ROUTE_REFRESH_MESSAGE: 7,
} as const;

/** Message Header Error subcodes (RFC 4271 §6.1). */
export const HeaderSubcode = {
  UNSPECIFIC: 0,
  CONNECTION_NOT_SYNCHRONIZED: 1,
  BAD_MESSAGE_LENGTH: 2,
  BAD_MESSAGE_TYPE: 3,
} as const;

/** OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492 §5, RFC 9234). */
export const OpenSubcode = {
  UNSPECIFIC: 0,
  UNSUPPORTED_VERSION_NUMBER: 1,
  BAD_PEER_AS: 2,
  BAD_BGP_IDENTIFIER: 3,
  UNSUPPORTED_OPTIONAL_PARAMETER: 4,
  UNACCEPTABLE_HOLD_TIME: 6,
  UNSUPPORTED_CAPABILITY: 7,
  ROLE_MISMATCH: 11,
} as const;

/** UPDATE Message Error subcodes (RFC 4271 §6.3). */
export const UpdateSubcode = {
  UNSPECIFIC: 0,
  MALFORMED_ATTRIBUTE_LIST: 1,
  UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: 2,
  MISSING_WELL_KNOWN_ATTRIBUTE: 3,
  ATTRIBUTE_FLAGS_ERROR: 4,
  ATTRIBUTE_LENGTH_ERROR: 5,
  INVALID_ORIGIN_ATTRIBUTE: 6,
  INVALID_NEXT_HOP_ATTRIBUTE: 8,
  OPTIONAL_ATTRIBUTE_ERROR: 9,
  INVALID_NETWORK_FIELD: 10,
  MALFORMED_AS_PATH: 11,
} as const;

/** Finite State Machine Error subcodes (RFC 6608 §3). */
export const FsmSubcode = {
  UNSPECIFIED: 0,
  UNEXPECTED_MESSAGE_IN_OPEN_SENT: 1,
  UNEXPECTED_MESSAGE_IN_OPEN_CONFIRM: 2,
  UNEXPECTED_MESSAGE_IN_ESTABLISHED: 3,
} as const;

/** Cease subcodes (RFC 4486 §4, RFC 8538 §3, RFC 9384 §3). */
export const CeaseSubcode = {
  MAXIMUM_PREFIXES_REACHED: 1,
  ADMINISTRATIVE_SHUTDOWN: 2,
  PEER_DECONFIGURED: 3,
  ADMINISTRATIVE_RESET: 4,
  CONNECTION_REJECTED: 5,
  OTHER_CONFIGURATION_CHANGE: 6,
  CONNECTION_COLLISION_RESOLUTION: 7,
  OUT_OF_RESOURCES: 8,
  HARD_RESET: 9,
  BFD_DOWN: 10,
} as const;

/** ROUTE-REFRESH Message Error subcodes (RFC 7313 §5). */
export const RouteRefreshSubcode = {
  INVALID_MESSAGE_LENGTH: 1,
} as const;

/** One NOTIFICATION error code with the names of its subcodes. */
export interface NotificationCodeInfo {
  readonly code: number;
  readonly name: string;
  readonly reference: string;
  /** Subcode → name. Codes without subcodes (Hold Timer Expired) have none. */
  readonly subcodes: ReadonlyMap<number, string>;
}

function entry(code: number, name: string, reference: string, subcodes: readonly (readonly [number, string])[]): NotificationCodeInfo {
  return { code, name, reference, subcodes: new Map(subcodes) };
}

/**
 * The one table of NOTIFICATION codes and subcodes with their names, as the IANA "BGP Error
 * (Notification) Codes" and "... Subcodes" registries spell them.
 */
export const NOTIFICATION_TABLE: ReadonlyMap<number, NotificationCodeInfo> = new Map(
  [
    entry(ErrorCode.MESSAGE_HEADER, 'Message Header Error', 'RFC 4271 §6.1', [
      [HeaderSubcode.UNSPECIFIC, 'Unspecific'],
      [HeaderSubcode.CONNECTION_NOT_SYNCHRONIZED, 'Connection Not Synchronized'],
      [HeaderSubcode.BAD_MESSAGE_LENGTH, 'Bad Message Length'],
      [HeaderSubcode.BAD_MESSAGE_TYPE, 'Bad Message Type'],
    ]),
    entry(ErrorCode.OPEN_MESSAGE, 'OPEN Message Error', 'RFC 4271 §6.2, RFC 5492 §5', [
      [OpenSubcode.UNSPECIFIC, 'Unspecific'],
      [OpenSubcode.UNSUPPORTED_VERSION_NUMBER, 'Unsupported Version Number'],
      [OpenSubcode.BAD_PEER_AS, 'Bad Peer AS'],
      [OpenSubcode.BAD_BGP_IDENTIFIER, 'Bad BGP Identifier'],
      [OpenSubcode.UNSUPPORTED_OPTIONAL_PARAMETER, 'Unsupported Optional Parameter'],
      [5, 'Authentication Failure (deprecated)'],
      [OpenSubcode.UNACCEPTABLE_HOLD_TIME, 'Unacceptable Hold Time'],
      [OpenSubcode.UNSUPPORTED_CAPABILITY, 'Unsupported Capability'],
      [OpenSubcode.ROLE_MISMATCH, 'Role Mismatch'],
    ]),
    entry(ErrorCode.UPDATE_MESSAGE, 'UPDATE Message Error', 'RFC 4271 §6.3, RFC 7606', [
      [UpdateSubcode.UNSPECIFIC, 'Unspecific'],
      [UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, 'Malformed Attribute List'],
      [UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, 'Unrecognized Well-known Attribute'],
      [UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE, 'Missing Well-known Attribute'],
      [UpdateSubcode.ATTRIBUTE_FLAGS_ERROR, 'Attribute Flags Error'],
      [UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, 'Attribute Length Error'],
      [UpdateSubcode.INVALID_ORIGIN_ATTRIBUTE, 'Invalid ORIGIN Attribute'],
      [7, 'AS Routing Loop (deprecated)'],
      [UpdateSubcode.INVALID_NEXT_HOP_ATTRIBUTE, 'Invalid NEXT_HOP Attribute'],
      [UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, 'Optional Attribute Error'],
      [UpdateSubcode.INVALID_NETWORK_FIELD, 'Invalid Network Field'],
      [UpdateSubcode.MALFORMED_AS_PATH, 'Malformed AS_PATH'],
    ]),
    entry(ErrorCode.HOLD_TIMER_EXPIRED, 'Hold Timer Expired', 'RFC 4271 §6.5', []),
    entry(ErrorCode.FSM, 'Finite State Machine Error', 'RFC 4271 §6.6, RFC 6608', [
      [FsmSubcode.UNSPECIFIED, 'Unspecified Error'],
      [FsmSubcode.UNEXPECTED_MESSAGE_IN_OPEN_SENT, 'Receive Unexpected Message in OpenSent State'],
      [FsmSubcode.UNEXPECTED_MESSAGE_IN_OPEN_CONFIRM, 'Receive Unexpected Message in OpenConfirm State'],
      [FsmSubcode.UNEXPECTED_MESSAGE_IN_ESTABLISHED, 'Receive Unexpected Message in Established State'],
    ]),
    entry(ErrorCode.CEASE, 'Cease', 'RFC 4271 §6.7, RFC 4486, RFC 8538, RFC 9384', [
      [CeaseSubcode.MAXIMUM_PREFIXES_REACHED, 'Maximum Number of Prefixes Reached'],
      [CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, 'Administrative Shutdown'],
      [CeaseSubcode.PEER_DECONFIGURED, 'Peer De-configured'],
      [CeaseSubcode.ADMINISTRATIVE_RESET, 'Administrative Reset'],
      [CeaseSubcode.CONNECTION_REJECTED, 'Connection Rejected'],
      [CeaseSubcode.OTHER_CONFIGURATION_CHANGE, 'Other Configuration Change'],
      [CeaseSubcode.CONNECTION_COLLISION_RESOLUTION, 'Connection Collision Resolution'],
      [CeaseSubcode.OUT_OF_RESOURCES, 'Out of Resources'],
      [CeaseSubcode.HARD_RESET, 'Hard Reset'],
      [CeaseSubcode.BFD_DOWN, 'BFD Down'],
    ]),
    entry(ErrorCode.ROUTE_REFRESH_MESSAGE, 'ROUTE-REFRESH Message Error', 'RFC 7313 §5', [
      [RouteRefreshSubcode.INVALID_MESSAGE_LENGTH, 'Invalid Message Length'],
    ]),
  ].map((e) => [e.code, e]),
);

/**
 * Human text for a NOTIFICATION code and subcode, for logs and errors: `Hold Timer Expired`,
 * `UPDATE Message Error / Malformed AS_PATH`, `Cease / Administrative Shutdown`. Subcode 0 of a
 * code whose table has no entry for 0 prints the code alone; unknown values print as numbers.
 */
export function describeNotification(code: number, subcode: number): string {
  const info = NOTIFICATION_TABLE.get(code);
  if (!info) return `Unknown Error Code ${code} / subcode ${subcode}`;
  const sub = info.subcodes.get(subcode);
  if (sub !== undefined) return `${info.name} / ${sub}`;
  if (subcode === 0) return info.name;
  return `${info.name} / subcode ${subcode}`;
}

/** Path attribute type codes the codec interprets (RFC 4271 §5, 1997, 4456, 4760, 6793). */
export const AttrType = {
  ORIGIN: 1,
  AS_PATH: 2,
  NEXT_HOP: 3,
  MULTI_EXIT_DISC: 4,
  LOCAL_PREF: 5,
  ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7,
  COMMUNITIES: 8,
  ORIGINATOR_ID: 9,
  CLUSTER_LIST: 10,
  MP_REACH_NLRI: 14,
  MP_UNREACH_NLRI: 15,
  AS4_PATH: 17,
  AS4_AGGREGATOR: 18,
  LARGE_COMMUNITY: 32,
} as const;

/** Attribute flag bits (RFC 4271 §4.3). The low four bits are unused: zero when sent, ignored when received. */
export const AttrFlag = {
  OPTIONAL: 0x80,
  TRANSITIVE: 0x40,
  PARTIAL: 0x20,
  EXTENDED_LENGTH: 0x10,
} as const;

/** Optional parameter types in OPEN (RFC 5492 §4; type 1 Authentication is deprecated). */
export const OptionalParameterType = {
  CAPABILITIES: 2,
} as const;

/** ORIGIN values by name (RFC 4271 §5.1.1), indexed by value. */
export const ORIGIN_NAMES: readonly string[] = ['IGP', 'EGP', 'INCOMPLETE'];

/** Well-known communities (RFC 1997). */
export const WellKnownCommunity = {
  NO_EXPORT: 0xffffff01,
  NO_ADVERTISE: 0xffffff02,
  NO_EXPORT_SUBCONFED: 0xffffff03,
} as const;

/** ROUTE-REFRESH message subtypes in the former Reserved octet (RFC 7313 §3). */
export const RouteRefreshSubtype = {
  REQUEST: 0,
  BEGIN: 1,
  END: 2,
} as const;
