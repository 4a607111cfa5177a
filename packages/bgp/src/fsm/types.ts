/**
 * Types of the BGP finite state machine (RFC 4271 §8): states, timers, events, actions,
 * the snapshot the reducer threads through, and the result of one step.
 */
import type { NotificationSpec } from '../errors.js';

/** Why the FSM changed state; the table with descriptions is {@link FSM_REASONS}. */
export type FsmReason =
  | 'manual-start'
  | 'automatic-start'
  | 'idle-hold-expired'
  | 'manual-stop'
  | 'automatic-stop'
  | 'connect-retry-expired'
  | 'tcp-connected'
  | 'tcp-accepted'
  | 'tcp-failed'
  | 'open-received'
  | 'keepalive-received'
  | 'hold-timer-expired'
  | 'notification-received'
  | 'header-error'
  | 'open-error'
  | 'update-error'
  | 'collision'
  | 'fsm-error';

/** Automatic restart with exponential backoff (see {@link idleHoldDelayMs}). */
export interface IdleHoldConfig {
  /** Delay before the first automatic restart after a failure. */
  readonly initialMs: number;
  /** Upper bound of the delay. */
  readonly maxMs: number;
  /** A session Established this long clears the failure count (the `stable` timer). */
  readonly resetAfterMs: number;
}

/** A validated configuration with every default filled in (see {@link resolveFsmConfig}). */
export interface ResolvedFsmConfig {
  /** Never initiate a connection: wait in Active for the peer (RFC 4271 PassiveTcpEstablishment). */
  readonly passive: boolean;
  /** ConnectRetryTime (RFC 4271 §10: 120 s). */
  readonly connectRetryTimeMs: number;
  /** Hold time we propose in our OPEN: 0 (no keepalives) or 3..65535 (RFC 4271 §4.2). */
  readonly holdTimeS: number;
  /** Preferred keepalive interval; null means a third of the negotiated hold time. */
  readonly keepaliveTimeS: number | null;
  /** Hold timer while waiting for the peer's OPEN in OpenSent (RFC 4271 §8.2.2: 4 minutes). */
  readonly largeHoldTimeS: number;
  readonly idleHold: IdleHoldConfig;
}

/** The six session states of RFC 4271 §8.2.2. */
export type FsmState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

/** Every {@link FsmState}, in the RFC's order. */
export const FSM_STATES: readonly FsmState[] = ['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'];

/**
 * Timers the FSM asks the driver to run. `connect-retry`, `hold` and `keepalive` are RFC 4271
 * §8 mandatory timers; `idle-hold` is the optional IdleHoldTimer of §8.1.1 used for automatic
 * restart with backoff; `stable` is Tabby's: it fires once a session has stayed Established
 * for `idleHold.resetAfterMs` and clears the backoff.
 */
export type TimerName = 'connect-retry' | 'hold' | 'keepalive' | 'idle-hold' | 'stable';

/** Every {@link TimerName}; also the order in which timers are stopped on the way to Idle. */
export const TIMER_NAMES: readonly TimerName[] = ['connect-retry', 'hold', 'keepalive', 'idle-hold', 'stable'];

/**
 * Input to {@link step}. `type` is the RFC 4271 §8.1 event name (without the underscores);
 * `UpdateMsgSent` and `StableTimerExpires` are Tabby extensions. The table of every event with
 * its RFC number is {@link FSM_EVENTS}.
 */
export type FsmEvent =
  /** Event 1: the operator (or config) starts the peer; overrides a pending idle hold. */
  | { readonly type: 'ManualStart' }
  /** Event 2: the operator stops the peer; `notification` defaults to Cease/Administrative Shutdown. */
  | { readonly type: 'ManualStop'; readonly notification?: NotificationSpec }
  /** Event 3: the system starts the peer; ignored while an idle hold (backoff) is pending. */
  | { readonly type: 'AutomaticStart' }
  /** Event 8: the system stops the session (e.g. prefix limit); `notification` defaults to Cease/0. */
  | { readonly type: 'AutomaticStop'; readonly notification?: NotificationSpec }
  /** Event 9. */
  | { readonly type: 'ConnectRetryTimerExpires' }
  /** Event 10. */
  | { readonly type: 'HoldTimerExpires' }
  /** Event 11. */
  | { readonly type: 'KeepaliveTimerExpires' }
  /** Event 13. */
  | { readonly type: 'IdleHoldTimerExpires' }
  /** Tabby: the `stable` timer fired (Established long enough to forget past failures). */
  | { readonly type: 'StableTimerExpires' }
  /** Event 16: our outbound TCP connection succeeded. */
  | { readonly type: 'TcpCrAcked' }
  /** Event 17: we accepted an inbound TCP connection from the peer. */
  | { readonly type: 'TcpConnectionConfirmed' }
  /** Event 18: the TCP connection failed, was refused or was closed by the peer. */
  | { readonly type: 'TcpConnectionFails' }
  /**
   * Event 19: a valid OPEN arrived and survived collision detection. `holdTimeS` is the peer's
   * Hold Time field; the FSM negotiates min(local, peer). 1 and 2 are invalid (RFC 4271 §6.2)
   * and should have been sent as {@link FsmEvent} `BGPOpenMsgErr` by the codec; if they get
   * here the FSM treats them as an OPEN error 2/6 (Unacceptable Hold Time).
   */
  | { readonly type: 'BGPOpen'; readonly holdTimeS: number }
  /** Event 21: a message header error; `notification` is what to send (RFC 4271 §6.1). */
  | { readonly type: 'BGPHeaderErr'; readonly notification: NotificationSpec }
  /** Event 22: an OPEN error; `notification` is what to send (RFC 4271 §6.2). */
  | { readonly type: 'BGPOpenMsgErr'; readonly notification: NotificationSpec }
  /** Event 23: this connection lost a collision (RFC 4271 §6.8); see {@link resolveCollision}. */
  | { readonly type: 'OpenCollisionDump' }
  /** Event 24: the peer sent NOTIFICATION 2/1 (Unsupported Version Number). */
  | { readonly type: 'NotifMsgVerErr' }
  /** Event 25: the peer sent any other NOTIFICATION. */
  | { readonly type: 'NotifMsg' }
  /** Event 26: a KEEPALIVE arrived. */
  | { readonly type: 'KeepAliveMsg' }
  /** Event 27: a valid UPDATE arrived (the driver hands its contents to the RIB). */
  | { readonly type: 'UpdateMsg' }
  /** Event 28: an UPDATE error calling for a session reset; `notification` is what to send. */
  | { readonly type: 'UpdateMsgErr'; readonly notification: NotificationSpec }
  /** Tabby: the driver sent an UPDATE (restarts the keepalive timer, RFC 4271 §8.2.2 Established). */
  | { readonly type: 'UpdateMsgSent' };

/** The `type` of an {@link FsmEvent}. */
export type FsmEventType = FsmEvent['type'];

/**
 * Output of {@link step}: effects the driver executes in the order given. Timer durations are
 * nominal; the driver may apply RFC 4271 §10 jitter.
 */
export type FsmAction =
  /** Open a TCP connection to the peer (port 179); report TcpCrAcked or TcpConnectionFails. */
  | { readonly type: 'connect' }
  /** Close the session's TCP connection (after flushing queued writes) and abort a pending connect. */
  | { readonly type: 'drop' }
  /** Send our OPEN, proposing `holdTimeS`. */
  | { readonly type: 'sendOpen'; readonly holdTimeS: number }
  | { readonly type: 'sendKeepalive' }
  | { readonly type: 'sendNotification'; readonly notification: NotificationSpec }
  /** Arm timer `timer` to fire once after `ms`; the FSM never starts a timer that is running. */
  | { readonly type: 'startTimer'; readonly timer: TimerName; readonly ms: number }
  /** Cancel timer `timer`; the FSM only stops timers it started. */
  | { readonly type: 'stopTimer'; readonly timer: TimerName }
  /** The session is Established: hand it to the RIB (start sending our routes). */
  | { readonly type: 'sessionUp'; readonly holdTimeS: number; readonly keepaliveTimeS: number }
  /** The session left Established: withdraw every route learned from the peer. */
  | { readonly type: 'sessionDown'; readonly reason: FsmReason };

/** The `type` of an {@link FsmAction}. */
export type FsmActionType = FsmAction['type'];

/** Timer values agreed in the OPEN exchange (RFC 4271 §4.2, §10). 0 means no hold/keepalive. */
export interface NegotiatedTimes {
  readonly holdTimeS: number;
  readonly keepaliveTimeS: number;
}

/**
 * Everything the FSM knows about one peer connection. Plain immutable data: store it, log it,
 * compare it; only {@link step} makes the next one.
 */
export interface FsmSnapshot {
  readonly config: ResolvedFsmConfig;
  readonly state: FsmState;
  /** Which timers the driver is running on the FSM's behalf. */
  readonly timers: Readonly<Record<TimerName, boolean>>;
  /** Set from OpenConfirm on (after a valid OPEN); null in the other states. */
  readonly negotiated: NegotiatedTimes | null;
  /** RFC 4271 §8 ConnectRetryCounter (a statistic: Tabby's backoff uses `consecutiveFailures`). */
  readonly connectRetryCounter: number;
  /** Failures since the last manual start/stop or stable Established period; drives the idle hold. */
  readonly consecutiveFailures: number;
}

/** A change of state, for the `from → to (reason)` log line. */
export interface FsmTransition {
  readonly from: FsmState;
  readonly to: FsmState;
  readonly reason: FsmReason;
}

/** Result of {@link step}. `transition` is present exactly when the state changed. */
export interface FsmStep {
  readonly state: FsmSnapshot;
  readonly actions: readonly FsmAction[];
  readonly transition?: FsmTransition;
}
