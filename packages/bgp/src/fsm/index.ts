/**
 * BGP finite state machine (RFC 4271 §8) as an I/O-free reducer:
 * `step(snapshot, event) → { state, actions, transition? }`. No sockets, timers, clocks or
 * loggers live here; a thin driver owns those and feeds events in.
 *
 * ## Driver contract
 *
 * One snapshot per peer (a second one only during a collision, see below). Create it with
 * `createSnapshot(config)` (validate user input first with `validateFsmConfig`), then for every
 * event call `step` and:
 * 1. store `state`;
 * 2. if `transition` is present, log `formatTransition(transition)` (`Idle → Connect (manual-start)`);
 * 3. execute `actions` in order:
 *    - `connect`: open TCP to the peer; later feed `TcpCrAcked` or `TcpConnectionFails`.
 *    - `drop`: flush queued writes (a NOTIFICATION just sent must reach the wire), close the
 *      connection and abort a pending connect. A drop with no connection is a no-op.
 *    - `sendOpen` / `sendKeepalive` / `sendNotification`: encode and write.
 *    - `startTimer(timer, ms)`: arm a one-shot timer on the injected clock (optionally with
 *      RFC 4271 §10 jitter, e.g. ×[0.75, 1] for connect-retry and keepalive); when it fires feed
 *      `timerExpiredEvent(timer)`. The FSM never starts a running timer and only stops running
 *      ones; an expiry that races a stop is recognised as stale and ignored by `step`.
 *    - `stopTimer(timer)`: cancel it.
 *    - `sessionUp`: the session is Established: hand it to the RIB (send our routes).
 *    - `sessionDown(reason)`: withdraw every route learned from the peer.
 *
 * Events to feed: `ManualStart`/`ManualStop` from the operator (admin up/down; a ManualStop's
 * optional NOTIFICATION defaults to Cease/Administrative Shutdown), `AutomaticStart` when a
 * configured peer should run (ignored while a backoff is pending), `AutomaticStop` for
 * system-initiated stops (e.g. prefix limit). `TcpConnectionConfirmed` when an inbound connection
 * from the peer is accepted in Connect/Active (it becomes this FSM's connection; abort the
 * outbound attempt). Decoded messages: OPEN → `BGPOpen { holdTimeS }` (after the codec's checks,
 * which reject hold times 1 and 2 with 2/6 as `BGPOpenMsgErr`, and after collision detection),
 * KEEPALIVE → `KeepAliveMsg`, UPDATE → `UpdateMsg` (then to the RIB), NOTIFICATION 2/1 →
 * `NotifMsgVerErr`, other NOTIFICATION → `NotifMsg`; decode errors → `BGPHeaderErr` /
 * `BGPOpenMsgErr` / `UpdateMsgErr` carrying the BgpError's NotificationSpec (RFC 7606 actions
 * other than session-reset never reach the FSM). ROUTE-REFRESH goes to the RIB and does not
 * touch the hold timer (as GoBGP); before Established feed it as `UpdateMsg` (an unexpected
 * message, RFC 6608). After writing an UPDATE feed `UpdateMsgSent` (restarts the keepalive
 * timer); KEEPALIVEs the FSM asks for restart it already. A read/write error or EOF →
 * `TcpConnectionFails`.
 *
 * ## Timers
 *
 * Hold time = min(ours, peer's) (RFC 4271 §4.2); 0 means no hold and no keepalive timers.
 * Keepalive = the configured value capped at ⌊hold / 3⌋, or ⌊hold / 3⌋. OpenSent runs the hold
 * timer at `largeHoldTimeS` (4 min). Defaults: ConnectRetryTime 120 s, HoldTime 90 s (§10).
 *
 * ## Automatic restart (backoff)
 *
 * Every entry into Idle except ManualStop and a lost collision counts a consecutive failure
 * and starts the `idle-hold` timer for `min(maxMs, initialMs × 2^(failures − 1))` (defaults
 * 5 s doubling to 300 s); its expiry restarts the peer (`idle-hold-expired`). A session that
 * stays Established for `resetAfterMs` (the `stable` timer, default 300 s) clears the count;
 * ManualStart and ManualStop clear it too. ManualStart overrides a pending idle hold.
 *
 * ## Collisions (RFC 4271 §6.8)
 *
 * The driver knows each connection's direction. An inbound connection that arrives while the
 * peer's FSM is in OpenSent or OpenConfirm gets a second instance, made with
 * `startCollisionCandidate(primary)` (already in OpenSent: send the OPEN it asks for). When an
 * OPEN arrives on one connection while the other instance is
 * - in OpenConfirm, or in OpenSent (this OPEN carries the peer's identifier, which RFC 4271
 *   §6.8 lets us use for OpenSent too): `resolveCollision(localBgpId, open.bgpId)` names the
 *   direction to close;
 *   feed `OpenCollisionDump` to the instance on that connection (it sends Cease/7 and drops)
 *   and, if the receiving connection survived, `BGPOpen` to it;
 * - Established: feed `OpenCollisionDump` to the receiving instance (Established always wins);
 * - gone: feed `BGPOpen`.
 * When either instance reaches Established, feed `OpenCollisionDump` to the other. Execute a
 * loser's actions, then discard it; the survivor is the peer's FSM. Inbound connections while
 * Established are closed by the driver; `TcpConnectionConfirmed`/`TcpCrAcked` in OpenSent and
 * later are ignored by `step`, so feeding them is optional.
 *
 * ## Deviations from RFC 4271 §8.2.2 (deliberate)
 *
 * - Optional attributes not implemented: DelayOpen, SendNOTIFICATIONwithoutOPEN,
 *   CollisionDetectEstablishedState, TrackTcpState (events 4–7, 12, 14, 15, 20 do not exist);
 *   passive peers use `config.passive` instead of the *_with_PassiveTcpEstablishment events.
 * - A passive peer never starts the ConnectRetryTimer, so it waits in Active indefinitely.
 * - In Idle only the idle-hold timer runs: paths to Idle stop every other timer (the RFC
 *   restarts the ConnectRetryTimer on some of them, to no effect).
 * - NOTIFICATION received in OpenSent goes to Idle without sending an FSM Error back.
 * - Idle + ManualStop also cancels a pending automatic restart; Idle drops a connection it
 *   is handed (it refuses connections).
 * - A lost collision arms no idle hold (the surviving connection carries the session).
 * - An automatic restart (idle hold expiry) keeps the ConnectRetryCounter; Manual/AutomaticStart
 *   zero it as the RFC says.
 * - Stale timer expiries are ignored instead of being "any other event".
 * - Header errors in Established send their own NOTIFICATION (RFC 4271 §6.1) rather than
 *   the silent drop of the §8.2.2 "any other event" list; an OPEN (valid or not) in
 *   Established sends FSM Error 5/3 (RFC 6608).
 */
export type {
  FsmState,
  FsmEvent,
  FsmEventType,
  FsmAction,
  FsmActionType,
  FsmReason,
  FsmSnapshot,
  FsmStep,
  FsmTransition,
  IdleHoldConfig,
  NegotiatedTimes,
  ResolvedFsmConfig,
  TimerName,
} from './types.js';
export { FSM_STATES, TIMER_NAMES } from './types.js';
export type { FsmConfig, FsmConfigResult } from './config.js';
export { DEFAULT_FSM_CONFIG, validateFsmConfig, resolveFsmConfig } from './config.js';
export type { FsmEventInfo } from './events.js';
export { FSM_EVENTS, FSM_EVENT_TYPES, timerExpiredEvent, timerOfEvent } from './events.js';
export type { FsmReasonInfo } from './reasons.js';
export { FSM_REASONS, FSM_REASON_NAMES, isAllowedTransition, formatTransition } from './reasons.js';
export { isValidHoldTime, negotiateHoldTime, keepaliveTimeFor, idleHoldDelayMs } from './timers.js';
export {
  HOLD_TIMER_EXPIRED,
  CEASE,
  CEASE_ADMINISTRATIVE_SHUTDOWN,
  CEASE_CONNECTION_COLLISION,
  OPEN_UNACCEPTABLE_HOLD_TIME,
  fsmError,
} from './notifications.js';
export { createSnapshot, step } from './step.js';
export type { CollisionResolution } from './collision.js';
export { resolveCollision, bgpIdentifierToUint32, startCollisionCandidate } from './collision.js';
export type { FsmConfigIssue } from './errors.js';
export { FsmConfigError, isFsmConfigError, FsmInvariantError, isFsmInvariantError } from './errors.js';
