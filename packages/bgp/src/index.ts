/**
 * @tabby/bgp: a BGP-4 speaker. The codec (pure), the FSM (an I/O-free reducer), sessions
 * over TCP, the RIB with best-path selection and route reflection, and the Speaker API the
 * agent uses: add/update/remove peers, announce/withdraw, status, routes, change events.
 */
export type {
  Afi,
  AsPathSegment,
  BgpMessage,
  Capability,
  Family,
  KeepaliveMessage,
  LargeCommunity,
  MpReach,
  MpUnreach,
  NotificationMessage,
  OpenMessage,
  Origin,
  PathAttributes,
  Prefix,
  RawAttribute,
  RouteRefreshMessage,
  Safi,
  UpdateMessage,
} from './types.js';
export {
  AFI_IPV4,
  AFI_IPV6,
  AS_CONFED_SEQUENCE,
  AS_CONFED_SET,
  AS_SEQUENCE,
  AS_SET,
  CAP_FOUR_OCTET_AS,
  CAP_GRACEFUL_RESTART,
  CAP_MULTIPROTOCOL,
  CAP_ROUTE_REFRESH,
  ORIGIN_EGP,
  ORIGIN_IGP,
  ORIGIN_INCOMPLETE,
  SAFI_UNICAST,
} from './types.js';
export { BgpError, isBgpError } from './errors.js';
export type { ErrorAction, NotificationSpec } from './errors.js';
export { silentLogger, systemClock } from './platform.js';
export type { BgpLogger, Clock, TimerHandle } from './platform.js';
export { DECISION_STEPS, DEFAULT_LOCAL_PREF, asPathLength, neighborAs, selectBest } from './rib/best-path.js';
export type { Decision, DecisionReason, Path } from './rib/best-path.js';
export { LocRib } from './rib/loc-rib.js';
export type { BestChange, KeyedChanges, LocRibOptions, RejectReason, RibChanges } from './rib/loc-rib.js';
export { AdjRibOut } from './rib/adj-rib-out.js';
export type { ExportRules, FilterErrors, KeyedOutBatch, OutBatch } from './rib/adj-rib-out.js';
export { POLICY_MATCH_OPERATORS, evaluatePolicy, interfaceMatches, policyRules, sameRoutePolicy, validateRoutePolicy } from './rib/route-policy.js';
export type { PolicyAction, PolicyDecision, PolicyMatchOperator, PolicyRoute, PolicyRule, RoutePolicy } from './rib/route-policy.js';
export type { ExportFilter } from './rib/export-filter.js';
export { COMMUNITY_NO_ADVERTISE, COMMUNITY_NO_EXPORT, COMMUNITY_NO_EXPORT_SUBCONFED, ExportPolicy } from './rib/export-policy.js';
export type { ExportPeer } from './rib/export-policy.js';
export { localSource } from './rib/source.js';
export type { PathSource } from './rib/source.js';
export { peerKey } from './session/peer-config.js';
export type { PeerConfig } from './session/peer-config.js';
export type { FamilyCounters, PeerStatus } from './session/peer-status.js';
export { TCP_MD5_MAX_KEY_BYTES, TcpSecurityError, isTcpSecurityError, loadTcpSecurity } from './session/tcp-security.js';
export type { TcpSecurity, TcpSecurityLoader } from './session/tcp-security.js';
export { Speaker, SpeakerConfigError, isSpeakerConfigError } from './speaker.js';
export type { GracefulRestartConfig, ListenAddress, LocalRouteAttributes, RouteEntry, SpeakerConfig } from './speaker.js';
export {
  FSM_EVENTS,
  FSM_REASONS,
  FSM_STATES,
  createSnapshot,
  formatTransition,
  resolveCollision,
  step,
} from './fsm/index.js';
export type { FsmAction, FsmConfig, FsmEvent, FsmReason, FsmSnapshot, FsmState, FsmStep } from './fsm/index.js';
export {
  MessageReader,
  canonicalPrefix,
  decodeMessage,
  describeNotification,
  encodeEndOfRib,
  encodeMessage,
  encodeUpdates,
  isEndOfRib,
  formatAttributes,
  formatCommunity,
  formatLargeCommunity,
} from './codec/index.js';
export type { CodecOptions, MessageDecodeResult, RouteBatch } from './codec/index.js';
