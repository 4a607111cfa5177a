/**
 * The reducer: `step(snapshot, event) → { state, actions, transition? }` implementing the
 * per-state action lists of RFC 4271 §8.2.2 without DelayOpen, SendNOTIFICATIONwithoutOPEN or
 * CollisionDetectEstablishedState. Deliberate deviations are listed in the module JSDoc
 * (index.ts) and marked `Deviation:` below.
 */
import type { NotificationSpec } from '../errors.js';
import { resolveFsmConfig, type FsmConfig } from './config.js';
import { FsmInvariantError } from './errors.js';
import { timerOfEvent } from './events.js';
import {
  CEASE,
  CEASE_ADMINISTRATIVE_SHUTDOWN,
  CEASE_CONNECTION_COLLISION,
  HOLD_TIMER_EXPIRED,
  OPEN_UNACCEPTABLE_HOLD_TIME,
  fsmError,
} from './notifications.js';
import { formatTransition, isAllowedTransition } from './reasons.js';
import { idleHoldDelayMs, isValidHoldTime, keepaliveTimeFor, negotiateHoldTime } from './timers.js';
import {
  TIMER_NAMES,
  type FsmAction,
  type FsmEvent,
  type FsmReason,
  type FsmSnapshot,
  type FsmState,
  type FsmStep,
  type NegotiatedTimes,
  type ResolvedFsmConfig,
  type TimerName,
} from './types.js';

const NO_TIMERS: Readonly<Record<TimerName, boolean>> = {
  'connect-retry': false,
  hold: false,
  keepalive: false,
  'idle-hold': false,
  stable: false,
};

/** A fresh snapshot in Idle for an already resolved configuration. */
export function initialSnapshot(config: ResolvedFsmConfig): FsmSnapshot {
  return { config, state: 'Idle', timers: NO_TIMERS, negotiated: null, connectRetryCounter: 0, consecutiveFailures: 0 };
}

/**
 * A new peer in Idle with no timers running. Defaults are filled from DEFAULT_FSM_CONFIG;
 * throws FsmConfigError when the configuration is out of range (validate user input first
 * with validateFsmConfig).
 */
export function createSnapshot(config: FsmConfig = {}): FsmSnapshot {
  return initialSnapshot(resolveFsmConfig(config));
}

/** The mutable working copy of one step; never escapes {@link step}. */
class Draft {
  state: FsmState;
  readonly timers: Record<TimerName, boolean>;
  negotiated: NegotiatedTimes | null;
  connectRetryCounter: number;
  consecutiveFailures: number;
  reason: FsmReason | null = null;
  readonly actions: FsmAction[] = [];

  constructor(readonly config: ResolvedFsmConfig, from: FsmSnapshot) {
    this.state = from.state;
    this.timers = { ...from.timers };
    this.negotiated = from.negotiated;
    this.connectRetryCounter = from.connectRetryCounter;
    this.consecutiveFailures = from.consecutiveFailures;
  }

  emit(action: FsmAction): void {
    this.actions.push(action);
  }

  start(timer: TimerName, ms: number): void {
    if (this.timers[timer]) throw new FsmInvariantError(`timer ${timer} started while running`);
    this.timers[timer] = true;
    this.emit({ type: 'startTimer', timer, ms });
  }

  stop(timer: TimerName): void {
    if (!this.timers[timer]) return;
    this.timers[timer] = false;
    this.emit({ type: 'stopTimer', timer });
  }

  restart(timer: TimerName, ms: number): void {
    this.stop(timer);
    this.start(timer, ms);
  }

  go(to: FsmState, reason: FsmReason): void {
    if (this.reason !== null) throw new FsmInvariantError(`two transitions in one step (${this.reason}, ${reason})`);
    this.state = to;
    this.reason = reason;
  }
}

/** States in which our OPEN has been sent, so a NOTIFICATION may be sent (RFC 4271 §8.2.2). */
function openSent(state: FsmState): boolean {
  return state === 'OpenSent' || state === 'OpenConfirm' || state === 'Established';
}

interface IdleOptions {
  /** Sent first, only when our OPEN has gone out. */
  readonly notification?: NotificationSpec;
  /** RFC 4271 ConnectRetryCounter: 'reset' also clears the backoff count. */
  readonly counter: 'reset' | 'increment' | 'keep';
  /** Count a failure and arm the idle-hold timer for an automatic restart. */
  readonly restart: boolean;
}

/**
 * The common path to Idle: NOTIFICATION (if any), drop, stop every timer, withdraw routes when
 * leaving Established, then arm the backoff. RFC 4271 restarts the ConnectRetryTimer on some
 * of these paths; Deviation: no timer but idle-hold runs in Idle (Idle ignores it anyway).
 */
function toIdle(d: Draft, reason: FsmReason, opts: IdleOptions): void {
  const wasEstablished = d.state === 'Established';
  if (opts.notification !== undefined && openSent(d.state)) {
    d.emit({ type: 'sendNotification', notification: opts.notification });
  }
  d.emit({ type: 'drop' });
  for (const timer of TIMER_NAMES) d.stop(timer);
  if (wasEstablished) d.emit({ type: 'sessionDown', reason });
  d.negotiated = null;
  if (opts.counter === 'reset') {
    d.connectRetryCounter = 0;
    d.consecutiveFailures = 0;
  } else if (opts.counter === 'increment') {
    d.connectRetryCounter += 1;
  }
  if (opts.restart) {
    d.consecutiveFailures += 1;
    d.start('idle-hold', idleHoldDelayMs(d.config.idleHold, d.consecutiveFailures));
  }
  d.go('Idle', reason);
}

/** ManualStop / AutomaticStop in any state but Idle. */
function stopSession(d: Draft, e: Extract<FsmEvent, { type: 'ManualStop' | 'AutomaticStop' }>): void {
  if (e.type === 'ManualStop') {
    toIdle(d, 'manual-stop', { notification: e.notification ?? CEASE_ADMINISTRATIVE_SHUTDOWN, counter: 'reset', restart: false });
  } else {
    toIdle(d, 'automatic-stop', { notification: e.notification ?? CEASE, counter: 'increment', restart: true });
  }
}

/** "Any other event": FSM Error with the RFC 6608 subcode once OPEN was sent; Idle. */
function unexpected(d: Draft): void {
  toIdle(d, 'fsm-error', { notification: fsmError(d.state), counter: 'increment', restart: true });
}

/** A message error the codec reported: send its NOTIFICATION (if OPEN was sent); Idle. */
function messageError(d: Draft, reason: FsmReason, notification: NotificationSpec): void {
  toIdle(d, reason, { notification, counter: 'increment', restart: true });
}

/**
 * OpenCollisionDump: Cease 7, Idle. Deviation: no idle hold is armed, because the surviving
 * connection carries the session and the driver discards this instance.
 */
function collision(d: Draft): void {
  toIdle(d, 'collision', { notification: CEASE_CONNECTION_COLLISION, counter: 'increment', restart: false });
}

function holdExpired(d: Draft): void {
  toIdle(d, 'hold-timer-expired', { notification: HOLD_TIMER_EXPIRED, counter: 'increment', restart: true });
}

function notificationReceived(d: Draft, counter: 'increment' | 'keep'): void {
  toIdle(d, 'notification-received', { counter, restart: true });
}

/**
 * Idle → Connect (initiate) or Active (passive: wait for the peer). Start events zero the
 * ConnectRetryCounter (RFC 4271 §8.2.2); an automatic restart after the idle hold keeps it,
 * so it counts retries since the last start.
 */
function begin(d: Draft, reason: FsmReason): void {
  if (reason !== 'idle-hold-expired') d.connectRetryCounter = 0;
  if (d.config.passive) {
    // Deviation: RFC 4271 starts the ConnectRetryTimer here too, which would make a passive
    // peer connect from Active; a passive Tabby peer never initiates.
    d.go('Active', reason);
    return;
  }
  d.start('connect-retry', d.config.connectRetryTimeMs);
  d.emit({ type: 'connect' });
  d.go('Connect', reason);
}

/** Connect/Active with a TCP connection: send OPEN, arm the large hold timer. */
function toOpenSent(d: Draft, reason: FsmReason): void {
  d.stop('connect-retry');
  d.emit({ type: 'sendOpen', holdTimeS: d.config.holdTimeS });
  d.start('hold', d.config.largeHoldTimeS * 1000);
  d.go('OpenSent', reason);
}

/** OpenSent + valid OPEN: negotiate timers, KEEPALIVE, OpenConfirm (RFC 4271 §4.2, §8.2.2). */
function openReceived(d: Draft, peerHoldTimeS: number): void {
  if (!isValidHoldTime(peerHoldTimeS)) {
    // The codec should have reported this as BGPOpenMsgErr 2/6 (RFC 4271 §6.2).
    messageError(d, 'open-error', OPEN_UNACCEPTABLE_HOLD_TIME);
    return;
  }
  const holdTimeS = negotiateHoldTime(d.config.holdTimeS, peerHoldTimeS);
  const keepaliveTimeS = keepaliveTimeFor(holdTimeS, d.config.keepaliveTimeS);
  d.negotiated = { holdTimeS, keepaliveTimeS };
  d.stop('hold');
  d.emit({ type: 'sendKeepalive' });
  if (holdTimeS > 0) {
    d.start('keepalive', keepaliveTimeS * 1000);
    d.start('hold', holdTimeS * 1000);
  }
  d.go('OpenConfirm', 'open-received');
}

function negotiatedOf(d: Draft): NegotiatedTimes {
  if (d.negotiated === null) throw new FsmInvariantError(`${d.state} without negotiated timers`);
  return d.negotiated;
}

/** OpenConfirm + KEEPALIVE: session up. */
function toEstablished(d: Draft): void {
  const n = negotiatedOf(d);
  if (n.holdTimeS > 0) d.restart('hold', n.holdTimeS * 1000);
  d.start('stable', d.config.idleHold.resetAfterMs);
  d.emit({ type: 'sessionUp', holdTimeS: n.holdTimeS, keepaliveTimeS: n.keepaliveTimeS });
  d.go('Established', 'keepalive-received');
}

/** KEEPALIVE/UPDATE received in Established: restart the hold timer unless it is 0. */
function heardFromPeer(d: Draft): void {
  const n = negotiatedOf(d);
  if (n.holdTimeS > 0) d.restart('hold', n.holdTimeS * 1000);
}

function sendKeepalive(d: Draft): void {
  d.emit({ type: 'sendKeepalive' });
  d.start('keepalive', negotiatedOf(d).keepaliveTimeS * 1000);
}

function inIdle(d: Draft, e: FsmEvent): void {
  switch (e.type) {
    case 'ManualStart':
      // An operator start overrides a pending automatic restart and forgets past failures.
      d.stop('idle-hold');
      d.consecutiveFailures = 0;
      begin(d, 'manual-start');
      return;
    case 'AutomaticStart':
      // Peer oscillation damping (RFC 4271 §8.1.1): wait for the idle hold to expire.
      if (!d.timers['idle-hold']) begin(d, 'automatic-start');
      return;
    case 'IdleHoldTimerExpires':
      begin(d, 'idle-hold-expired');
      return;
    case 'ManualStop':
      // Ignored by RFC 4271 in Idle; also cancels a pending automatic restart.
      d.stop('idle-hold');
      d.connectRetryCounter = 0;
      d.consecutiveFailures = 0;
      return;
    case 'TcpCrAcked':
    case 'TcpConnectionConfirmed':
      // Idle refuses connections (RFC 4271 §8.2.2).
      d.emit({ type: 'drop' });
      return;
    default:
      // Every other event leaves Idle unchanged (RFC 4271 §8.2.2).
      return;
  }
}

/** Connect and Active share every rule but connect-retry expiry and TCP failure. */
function inConnectOrActive(d: Draft, e: FsmEvent): void {
  switch (e.type) {
    case 'ManualStart':
    case 'AutomaticStart':
    case 'UpdateMsgSent':
      return;
    case 'ManualStop':
    case 'AutomaticStop':
      stopSession(d, e);
      return;
    case 'ConnectRetryTimerExpires':
      if (d.state === 'Connect') d.emit({ type: 'drop' });
      d.start('connect-retry', d.config.connectRetryTimeMs);
      d.emit({ type: 'connect' });
      if (d.state === 'Active') d.go('Connect', 'connect-retry-expired');
      return;
    case 'TcpCrAcked':
      toOpenSent(d, 'tcp-connected');
      return;
    case 'TcpConnectionConfirmed':
      toOpenSent(d, 'tcp-accepted');
      return;
    case 'TcpConnectionFails':
      // Connect: counter unchanged; Active: incremented (RFC 4271 §8.2.2).
      toIdle(d, 'tcp-failed', { counter: d.state === 'Connect' ? 'keep' : 'increment', restart: true });
      return;
    case 'BGPHeaderErr':
      messageError(d, 'header-error', e.notification);
      return;
    case 'BGPOpenMsgErr':
      messageError(d, 'open-error', e.notification);
      return;
    case 'NotifMsgVerErr':
    case 'NotifMsg':
      notificationReceived(d, 'increment');
      return;
    case 'OpenCollisionDump':
      collision(d);
      return;
    case 'HoldTimerExpires':
    case 'KeepaliveTimerExpires':
    case 'IdleHoldTimerExpires':
    case 'StableTimerExpires':
    case 'BGPOpen':
    case 'KeepAliveMsg':
    case 'UpdateMsg':
    case 'UpdateMsgErr':
      unexpected(d);
      return;
  }
}

function inOpenSent(d: Draft, e: FsmEvent): void {
  switch (e.type) {
    case 'ManualStart':
    case 'AutomaticStart':
    case 'UpdateMsgSent':
    case 'TcpCrAcked':
    case 'TcpConnectionConfirmed':
      // A second connection is the driver's to track for collision detection (§6.8).
      return;
    case 'ManualStop':
    case 'AutomaticStop':
      stopSession(d, e);
      return;
    case 'HoldTimerExpires':
      holdExpired(d);
      return;
    case 'TcpConnectionFails':
      d.emit({ type: 'drop' });
      d.stop('hold');
      if (!d.config.passive) d.start('connect-retry', d.config.connectRetryTimeMs);
      d.go('Active', 'tcp-failed');
      return;
    case 'BGPOpen':
      openReceived(d, e.holdTimeS);
      return;
    case 'BGPHeaderErr':
      messageError(d, 'header-error', e.notification);
      return;
    case 'BGPOpenMsgErr':
      messageError(d, 'open-error', e.notification);
      return;
    case 'OpenCollisionDump':
      collision(d);
      return;
    case 'NotifMsgVerErr':
      notificationReceived(d, 'keep');
      return;
    case 'NotifMsg':
      // Deviation: RFC 4271 lists event 25 among "any other event" (FSM Error sent); like
      // GoBGP and BIRD we do not answer a NOTIFICATION with one. RFC 6608 names only
      // KEEPALIVE/UPDATE/ROUTE-REFRESH as unexpected messages in OpenSent.
      notificationReceived(d, 'increment');
      return;
    case 'ConnectRetryTimerExpires':
    case 'KeepaliveTimerExpires':
    case 'IdleHoldTimerExpires':
    case 'StableTimerExpires':
    case 'KeepAliveMsg':
    case 'UpdateMsg':
    case 'UpdateMsgErr':
      unexpected(d);
      return;
  }
}

function inOpenConfirm(d: Draft, e: FsmEvent): void {
  switch (e.type) {
    case 'ManualStart':
    case 'AutomaticStart':
    case 'UpdateMsgSent':
    case 'TcpCrAcked':
    case 'TcpConnectionConfirmed':
      return;
    case 'ManualStop':
    case 'AutomaticStop':
      stopSession(d, e);
      return;
    case 'HoldTimerExpires':
      holdExpired(d);
      return;
    case 'KeepaliveTimerExpires':
      sendKeepalive(d);
      return;
    case 'TcpConnectionFails':
      toIdle(d, 'tcp-failed', { counter: 'increment', restart: true });
      return;
    case 'NotifMsgVerErr':
      notificationReceived(d, 'keep');
      return;
    case 'NotifMsg':
      notificationReceived(d, 'increment');
      return;
    case 'BGPHeaderErr':
      messageError(d, 'header-error', e.notification);
      return;
    case 'BGPOpenMsgErr':
      messageError(d, 'open-error', e.notification);
      return;
    case 'OpenCollisionDump':
      collision(d);
      return;
    case 'KeepAliveMsg':
      toEstablished(d);
      return;
    case 'ConnectRetryTimerExpires':
    case 'IdleHoldTimerExpires':
    case 'StableTimerExpires':
    case 'BGPOpen': // a second OPEN on this connection; collisions arrive as OpenCollisionDump
    case 'UpdateMsg':
    case 'UpdateMsgErr':
      unexpected(d);
      return;
  }
}

function inEstablished(d: Draft, e: FsmEvent): void {
  switch (e.type) {
    case 'ManualStart':
    case 'AutomaticStart':
    case 'TcpCrAcked':
    case 'TcpConnectionConfirmed':
      return;
    case 'ManualStop':
    case 'AutomaticStop':
      stopSession(d, e);
      return;
    case 'HoldTimerExpires':
      holdExpired(d);
      return;
    case 'KeepaliveTimerExpires':
      sendKeepalive(d);
      return;
    case 'UpdateMsgSent':
      // "Each time the local system sends a KEEPALIVE or UPDATE message, it restarts its
      // KeepaliveTimer, unless the negotiated HoldTime value is zero" (RFC 4271 §8.2.2).
      if (negotiatedOf(d).holdTimeS > 0) d.restart('keepalive', negotiatedOf(d).keepaliveTimeS * 1000);
      return;
    case 'StableTimerExpires':
      d.consecutiveFailures = 0;
      return;
    case 'TcpConnectionFails':
      toIdle(d, 'tcp-failed', { counter: 'increment', restart: true });
      return;
    case 'NotifMsgVerErr':
    case 'NotifMsg':
      notificationReceived(d, 'increment');
      return;
    case 'KeepAliveMsg':
    case 'UpdateMsg':
      heardFromPeer(d);
      return;
    case 'UpdateMsgErr':
      messageError(d, 'update-error', e.notification);
      return;
    case 'BGPHeaderErr':
      // RFC 4271 §6.1: a header error is reported with its own NOTIFICATION in any state.
      messageError(d, 'header-error', e.notification);
      return;
    case 'OpenCollisionDump':
      collision(d);
      return;
    case 'ConnectRetryTimerExpires':
    case 'IdleHoldTimerExpires':
    case 'BGPOpen':
    case 'BGPOpenMsgErr':
      // RFC 6608: an OPEN in Established is an unexpected message (5/3).
      unexpected(d);
      return;
  }
}

/**
 * Applies one event. Pure: the input snapshot is not modified and nothing else is touched.
 *
 * - `actions` are effects for the driver, to execute in order.
 * - `transition` is present exactly when `state.state` differs from `snapshot.state`; its
 *   reason is allowed for that pair by FSM_REASONS.
 * - A timer-expiry event for a timer the snapshot does not consider running is stale (it
 *   raced a stopTimer) and is discarded: the same snapshot, no actions.
 *
 * Throws FsmInvariantError only on a bug (a transition outside FSM_REASONS).
 */
export function step(snapshot: FsmSnapshot, event: FsmEvent): FsmStep {
  const timer = timerOfEvent(event.type);
  if (timer !== undefined && !snapshot.timers[timer]) return { state: snapshot, actions: [] };

  const d = new Draft(snapshot.config, snapshot);
  if (timer !== undefined) d.timers[timer] = false; // it fired
  switch (snapshot.state) {
    case 'Idle':
      inIdle(d, event);
      break;
    case 'Connect':
    case 'Active':
      inConnectOrActive(d, event);
      break;
    case 'OpenSent':
      inOpenSent(d, event);
      break;
    case 'OpenConfirm':
      inOpenConfirm(d, event);
      break;
    case 'Established':
      inEstablished(d, event);
      break;
  }

  const state: FsmSnapshot = {
    config: snapshot.config,
    state: d.state,
    timers: d.timers,
    negotiated: d.negotiated,
    connectRetryCounter: d.connectRetryCounter,
    consecutiveFailures: d.consecutiveFailures,
  };
  if (d.reason === null) return { state, actions: d.actions };
  const transition = { from: snapshot.state, to: d.state, reason: d.reason };
  if (transition.from === transition.to || !isAllowedTransition(transition.reason, transition.from, transition.to)) {
    throw new FsmInvariantError(`transition not allowed: ${formatTransition(transition)}`);
  }
  return { state, actions: d.actions, transition };
}
