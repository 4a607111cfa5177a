/**
 * The state × event matrix of RFC 4271 §8.2.2 for an active peer with the default timers
 * (ConnectRetry 120 s, hold 90 s proposed and offered by the peer, keepalive 30 s, OpenSent
 * hold 240 s, first idle hold 5 s, stable 300 s). The matrix type lists every event for every
 * state, so a new event cannot be added without deciding what each state does with it.
 */
import { describe, expect, it } from 'vitest';
import {
  FSM_EVENT_TYPES,
  FSM_STATES,
  formatTransition,
  isAllowedTransition,
  step,
  type FsmAction,
  type FsmEventType,
  type FsmReason,
  type FsmState,
} from '../../../src/fsm/index.js';
import { A, reach, sampleEvent } from './helpers.js';

interface Expect {
  /** Next state; omitted means the state does not change (and there is no transition). */
  readonly to?: FsmState;
  readonly reason?: FsmReason;
  readonly actions: readonly FsmAction[];
}

const stay = (...actions: FsmAction[]): Expect => ({ actions });
const go = (to: FsmState, reason: FsmReason, ...actions: FsmAction[]): Expect => ({ to, reason, actions });

const IH = A.start('idle-hold', 5_000);
const CR = A.start('connect-retry', 120_000);

// Connect: only connect-retry runs.
const connectIdle = (reason: FsmReason, ...extra: FsmAction[]): Expect => go('Idle', reason, A.drop, A.stop('connect-retry'), ...extra);
// OpenSent: only the large hold timer runs.
const openSentIdle = (reason: FsmReason, first: FsmAction[], ...extra: FsmAction[]): Expect =>
  go('Idle', reason, ...first, A.drop, A.stop('hold'), ...extra);
// OpenConfirm: hold and keepalive run.
const openConfirmIdle = (reason: FsmReason, first: FsmAction[], ...extra: FsmAction[]): Expect =>
  go('Idle', reason, ...first, A.drop, A.stop('hold'), A.stop('keepalive'), ...extra);
// Established: hold, keepalive and stable run; routes are withdrawn.
const establishedIdle = (reason: FsmReason, first: FsmAction[], ...extra: FsmAction[]): Expect =>
  go('Idle', reason, ...first, A.drop, A.stop('hold'), A.stop('keepalive'), A.stop('stable'), A.down(reason), ...extra);

const MATRIX: Record<FsmState, Record<FsmEventType, Expect>> = {
  Idle: {
    ManualStart: go('Connect', 'manual-start', CR, A.connect),
    ManualStop: stay(),
    AutomaticStart: go('Connect', 'automatic-start', CR, A.connect),
    AutomaticStop: stay(),
    ConnectRetryTimerExpires: stay(),
    HoldTimerExpires: stay(),
    KeepaliveTimerExpires: stay(),
    IdleHoldTimerExpires: stay(), // not running: stale
    StableTimerExpires: stay(),
    TcpCrAcked: stay(A.drop),
    TcpConnectionConfirmed: stay(A.drop), // Idle refuses connections
    TcpConnectionFails: stay(),
    BGPOpen: stay(),
    BGPHeaderErr: stay(),
    BGPOpenMsgErr: stay(),
    OpenCollisionDump: stay(),
    NotifMsgVerErr: stay(),
    NotifMsg: stay(),
    KeepAliveMsg: stay(),
    UpdateMsg: stay(),
    UpdateMsgErr: stay(),
    UpdateMsgSent: stay(),
  },
  Connect: {
    ManualStart: stay(),
    ManualStop: connectIdle('manual-stop'),
    AutomaticStart: stay(),
    AutomaticStop: connectIdle('automatic-stop', IH),
    ConnectRetryTimerExpires: stay(A.drop, CR, A.connect),
    HoldTimerExpires: stay(), // stale
    KeepaliveTimerExpires: stay(),
    IdleHoldTimerExpires: stay(),
    StableTimerExpires: stay(),
    TcpCrAcked: go('OpenSent', 'tcp-connected', A.stop('connect-retry'), A.sendOpen(), A.start('hold', 240_000)),
    TcpConnectionConfirmed: go('OpenSent', 'tcp-accepted', A.stop('connect-retry'), A.sendOpen(), A.start('hold', 240_000)),
    TcpConnectionFails: connectIdle('tcp-failed', IH),
    BGPOpen: connectIdle('fsm-error', IH),
    BGPHeaderErr: connectIdle('header-error', IH), // no NOTIFICATION before our OPEN
    BGPOpenMsgErr: connectIdle('open-error', IH),
    OpenCollisionDump: connectIdle('collision'),
    NotifMsgVerErr: connectIdle('notification-received', IH),
    NotifMsg: connectIdle('notification-received', IH),
    KeepAliveMsg: connectIdle('fsm-error', IH),
    UpdateMsg: connectIdle('fsm-error', IH),
    UpdateMsgErr: connectIdle('fsm-error', IH),
    UpdateMsgSent: stay(),
  },
  Active: {
    ManualStart: stay(),
    ManualStop: connectIdle('manual-stop'),
    AutomaticStart: stay(),
    AutomaticStop: connectIdle('automatic-stop', IH),
    ConnectRetryTimerExpires: go('Connect', 'connect-retry-expired', CR, A.connect),
    HoldTimerExpires: stay(),
    KeepaliveTimerExpires: stay(),
    IdleHoldTimerExpires: stay(),
    StableTimerExpires: stay(),
    TcpCrAcked: go('OpenSent', 'tcp-connected', A.stop('connect-retry'), A.sendOpen(), A.start('hold', 240_000)),
    TcpConnectionConfirmed: go('OpenSent', 'tcp-accepted', A.stop('connect-retry'), A.sendOpen(), A.start('hold', 240_000)),
    TcpConnectionFails: connectIdle('tcp-failed', IH),
    BGPOpen: connectIdle('fsm-error', IH),
    BGPHeaderErr: connectIdle('header-error', IH),
    BGPOpenMsgErr: connectIdle('open-error', IH),
    OpenCollisionDump: connectIdle('collision'),
    NotifMsgVerErr: connectIdle('notification-received', IH),
    NotifMsg: connectIdle('notification-received', IH),
    KeepAliveMsg: connectIdle('fsm-error', IH),
    UpdateMsg: connectIdle('fsm-error', IH),
    UpdateMsgErr: connectIdle('fsm-error', IH),
    UpdateMsgSent: stay(),
  },
  OpenSent: {
    ManualStart: stay(),
    ManualStop: openSentIdle('manual-stop', [A.notify(6, 2)]),
    AutomaticStart: stay(),
    AutomaticStop: openSentIdle('automatic-stop', [A.notify(6, 0)], IH),
    ConnectRetryTimerExpires: stay(),
    HoldTimerExpires: go('Idle', 'hold-timer-expired', A.notify(4, 0), A.drop, IH), // hold fired: nothing to stop
    KeepaliveTimerExpires: stay(),
    IdleHoldTimerExpires: stay(),
    StableTimerExpires: stay(),
    TcpCrAcked: stay(), // a second connection: collision tracking is the driver's
    TcpConnectionConfirmed: stay(),
    TcpConnectionFails: go('Active', 'tcp-failed', A.drop, A.stop('hold'), CR),
    BGPOpen: go('OpenConfirm', 'open-received', A.stop('hold'), A.keepalive, A.start('keepalive', 30_000), A.start('hold', 90_000)),
    BGPHeaderErr: openSentIdle('header-error', [A.notify(1, 2)], IH),
    BGPOpenMsgErr: openSentIdle('open-error', [A.notify(2, 2)], IH),
    OpenCollisionDump: openSentIdle('collision', [A.notify(6, 7)]),
    NotifMsgVerErr: openSentIdle('notification-received', [], IH),
    NotifMsg: openSentIdle('notification-received', [], IH),
    KeepAliveMsg: openSentIdle('fsm-error', [A.notify(5, 1)], IH),
    UpdateMsg: openSentIdle('fsm-error', [A.notify(5, 1)], IH),
    UpdateMsgErr: openSentIdle('fsm-error', [A.notify(5, 1)], IH),
    UpdateMsgSent: stay(),
  },
  OpenConfirm: {
    ManualStart: stay(),
    ManualStop: openConfirmIdle('manual-stop', [A.notify(6, 2)]),
    AutomaticStart: stay(),
    AutomaticStop: openConfirmIdle('automatic-stop', [A.notify(6, 0)], IH),
    ConnectRetryTimerExpires: stay(),
    HoldTimerExpires: go('Idle', 'hold-timer-expired', A.notify(4, 0), A.drop, A.stop('keepalive'), IH),
    KeepaliveTimerExpires: stay(A.keepalive, A.start('keepalive', 30_000)),
    IdleHoldTimerExpires: stay(),
    StableTimerExpires: stay(),
    TcpCrAcked: stay(),
    TcpConnectionConfirmed: stay(),
    TcpConnectionFails: openConfirmIdle('tcp-failed', [], IH),
    BGPOpen: openConfirmIdle('fsm-error', [A.notify(5, 2)], IH),
    BGPHeaderErr: openConfirmIdle('header-error', [A.notify(1, 2)], IH),
    BGPOpenMsgErr: openConfirmIdle('open-error', [A.notify(2, 2)], IH),
    OpenCollisionDump: openConfirmIdle('collision', [A.notify(6, 7)]),
    NotifMsgVerErr: openConfirmIdle('notification-received', [], IH),
    NotifMsg: openConfirmIdle('notification-received', [], IH),
    KeepAliveMsg: go('Established', 'keepalive-received', A.stop('hold'), A.start('hold', 90_000), A.start('stable', 300_000), A.up()),
    UpdateMsg: openConfirmIdle('fsm-error', [A.notify(5, 2)], IH),
    UpdateMsgErr: openConfirmIdle('fsm-error', [A.notify(5, 2)], IH),
    UpdateMsgSent: stay(),
  },
  Established: {
    ManualStart: stay(),
    ManualStop: establishedIdle('manual-stop', [A.notify(6, 2)]),
    AutomaticStart: stay(),
    AutomaticStop: establishedIdle('automatic-stop', [A.notify(6, 0)], IH),
    ConnectRetryTimerExpires: stay(),
    HoldTimerExpires: go(
      'Idle',
      'hold-timer-expired',
      A.notify(4, 0),
      A.drop,
      A.stop('keepalive'),
      A.stop('stable'),
      A.down('hold-timer-expired'),
      IH,
    ),
    KeepaliveTimerExpires: stay(A.keepalive, A.start('keepalive', 30_000)),
    IdleHoldTimerExpires: stay(),
    StableTimerExpires: stay(), // clears the backoff count (see backoff tests)
    TcpCrAcked: stay(),
    TcpConnectionConfirmed: stay(),
    TcpConnectionFails: establishedIdle('tcp-failed', [], IH),
    BGPOpen: establishedIdle('fsm-error', [A.notify(5, 3)], IH),
    BGPHeaderErr: establishedIdle('header-error', [A.notify(1, 2)], IH),
    BGPOpenMsgErr: establishedIdle('fsm-error', [A.notify(5, 3)], IH),
    OpenCollisionDump: establishedIdle('collision', [A.notify(6, 7)]),
    NotifMsgVerErr: establishedIdle('notification-received', [], IH),
    NotifMsg: establishedIdle('notification-received', [], IH),
    KeepAliveMsg: stay(A.stop('hold'), A.start('hold', 90_000)),
    UpdateMsg: stay(A.stop('hold'), A.start('hold', 90_000)),
    UpdateMsgErr: establishedIdle('update-error', [A.notify(3, 1)], IH),
    UpdateMsgSent: stay(A.stop('keepalive'), A.start('keepalive', 30_000)),
  },
};

const rows = FSM_STATES.flatMap((state) => FSM_EVENT_TYPES.map((event) => ({ state, event, expected: MATRIX[state][event] })));

describe('RFC 4271 §8.2.2 state × event matrix (active peer)', () => {
  it('covers every state and every event', () => {
    expect(rows).toHaveLength(FSM_STATES.length * FSM_EVENT_TYPES.length);
  });

  it.each(rows)('$state + $event', ({ state, event, expected }) => {
    const before = reach(state);
    const result = step(before, sampleEvent(event));
    expect(result.actions).toEqual(expected.actions);
    const to = expected.to ?? state;
    expect(result.state.state).toBe(to);
    if (to === state) {
      expect(result.transition).toBeUndefined();
    } else {
      expect(result.transition).toEqual({ from: state, to, reason: expected.reason });
      expect(isAllowedTransition(result.transition!.reason, state, to)).toBe(true);
    }
    expect(before).toEqual(reach(state)); // the input snapshot is not mutated
  });
});

interface VariantRow {
  readonly name: string;
  readonly from: () => ReturnType<typeof reach>;
  readonly event: Parameters<typeof step>[1];
  readonly expected: Expect;
}

const pendingIdleHold = (): ReturnType<typeof reach> => step(reach('Connect'), { type: 'TcpConnectionFails' }).state;

const VARIANTS: VariantRow[] = [
  // Passive peers (RFC 4271 PassiveTcpEstablishment): wait in Active, never connect.
  { name: 'passive Idle + ManualStart waits in Active', from: () => reach('Idle', { passive: true }), event: { type: 'ManualStart' }, expected: go('Active', 'manual-start') },
  { name: 'passive Idle + AutomaticStart waits in Active', from: () => reach('Idle', { passive: true }), event: { type: 'AutomaticStart' }, expected: go('Active', 'automatic-start') },
  { name: 'passive Active + ConnectRetryTimerExpires is stale (no timer)', from: () => reach('Active', { passive: true }), event: { type: 'ConnectRetryTimerExpires' }, expected: stay() },
  {
    name: 'passive Active + TcpConnectionConfirmed sends OPEN',
    from: () => reach('Active', { passive: true }),
    event: { type: 'TcpConnectionConfirmed' },
    expected: go('OpenSent', 'tcp-accepted', A.sendOpen(), A.start('hold', 240_000)),
  },
  { name: 'passive Active + TcpConnectionFails', from: () => reach('Active', { passive: true }), event: { type: 'TcpConnectionFails' }, expected: go('Idle', 'tcp-failed', A.drop, IH) },
  {
    name: 'passive OpenSent + TcpConnectionFails returns to Active without connect-retry',
    from: () => reach('OpenSent', { passive: true }),
    event: { type: 'TcpConnectionFails' },
    expected: go('Active', 'tcp-failed', A.drop, A.stop('hold')),
  },
  // Idle with an automatic restart pending.
  { name: 'Idle (backoff pending) + AutomaticStart is damped', from: pendingIdleHold, event: { type: 'AutomaticStart' }, expected: stay() },
  { name: 'Idle (backoff pending) + IdleHoldTimerExpires restarts', from: pendingIdleHold, event: { type: 'IdleHoldTimerExpires' }, expected: go('Connect', 'idle-hold-expired', CR, A.connect) },
  {
    name: 'Idle (backoff pending) + ManualStart overrides the backoff',
    from: pendingIdleHold,
    event: { type: 'ManualStart' },
    expected: go('Connect', 'manual-start', A.stop('idle-hold'), CR, A.connect),
  },
  { name: 'Idle (backoff pending) + ManualStop cancels the restart', from: pendingIdleHold, event: { type: 'ManualStop' }, expected: stay(A.stop('idle-hold')) },
  // Stop events carrying their own NOTIFICATION.
  {
    name: 'Established + ManualStop with Cease/Peer De-configured',
    from: () => reach('Established'),
    event: { type: 'ManualStop', notification: { code: 6, subcode: 3, data: new Uint8Array(0) } },
    expected: establishedIdle('manual-stop', [A.notify(6, 3)]),
  },
  {
    name: 'Established + AutomaticStop with Cease/Maximum Prefixes',
    from: () => reach('Established'),
    event: { type: 'AutomaticStop', notification: { code: 6, subcode: 1, data: new Uint8Array(0) } },
    expected: establishedIdle('automatic-stop', [A.notify(6, 1)], IH),
  },
  // Hold time negotiation.
  {
    name: 'OpenSent + BGPOpen(30): min(90, 30) = 30, keepalive 10',
    from: () => reach('OpenSent'),
    event: { type: 'BGPOpen', holdTimeS: 30 },
    expected: go('OpenConfirm', 'open-received', A.stop('hold'), A.keepalive, A.start('keepalive', 10_000), A.start('hold', 30_000)),
  },
  {
    name: 'OpenSent + BGPOpen(240): min(90, 240) = 90',
    from: () => reach('OpenSent'),
    event: { type: 'BGPOpen', holdTimeS: 240 },
    expected: go('OpenConfirm', 'open-received', A.stop('hold'), A.keepalive, A.start('keepalive', 30_000), A.start('hold', 90_000)),
  },
  {
    name: 'OpenSent + BGPOpen(0): no hold or keepalive timers',
    from: () => reach('OpenSent'),
    event: { type: 'BGPOpen', holdTimeS: 0 },
    expected: go('OpenConfirm', 'open-received', A.stop('hold'), A.keepalive),
  },
  {
    name: 'OpenSent (local hold 0) + BGPOpen(90): no timers',
    from: () => reach('OpenSent', { holdTimeS: 0 }),
    event: { type: 'BGPOpen', holdTimeS: 90 },
    expected: go('OpenConfirm', 'open-received', A.stop('hold'), A.keepalive),
  },
  {
    name: 'OpenSent + BGPOpen(2) that escaped the codec: 2/6 Unacceptable Hold Time',
    from: () => reach('OpenSent'),
    event: { type: 'BGPOpen', holdTimeS: 2 },
    expected: openSentIdle('open-error', [A.notify(2, 6)], IH),
  },
  {
    name: 'OpenSent with keepaliveTimeS 10 + BGPOpen(90): keepalive 10',
    from: () => reach('OpenSent', { keepaliveTimeS: 10 }),
    event: { type: 'BGPOpen', holdTimeS: 90 },
    expected: go('OpenConfirm', 'open-received', A.stop('hold'), A.keepalive, A.start('keepalive', 10_000), A.start('hold', 90_000)),
  },
  // Hold time 0 in OpenConfirm / Established.
  {
    name: 'OpenConfirm (hold 0) + KeepAliveMsg: Established with only the stable timer',
    from: () => reach('OpenConfirm', {}, 0),
    event: { type: 'KeepAliveMsg' },
    expected: go('Established', 'keepalive-received', A.start('stable', 300_000), A.up(0, 0)),
  },
  { name: 'Established (hold 0) + KeepAliveMsg restarts nothing', from: () => reach('Established', {}, 0), event: { type: 'KeepAliveMsg' }, expected: stay() },
  { name: 'Established (hold 0) + UpdateMsg restarts nothing', from: () => reach('Established', {}, 0), event: { type: 'UpdateMsg' }, expected: stay() },
  { name: 'Established (hold 0) + UpdateMsgSent restarts nothing', from: () => reach('Established', {}, 0), event: { type: 'UpdateMsgSent' }, expected: stay() },
  { name: 'Established (hold 0) + HoldTimerExpires is stale', from: () => reach('Established', {}, 0), event: { type: 'HoldTimerExpires' }, expected: stay() },
  { name: 'Established (hold 0) + KeepaliveTimerExpires is stale', from: () => reach('Established', {}, 0), event: { type: 'KeepaliveTimerExpires' }, expected: stay() },
  {
    name: 'Established (hold 0) + ManualStop',
    from: () => reach('Established', {}, 0),
    event: { type: 'ManualStop' },
    expected: go('Idle', 'manual-stop', A.notify(6, 2), A.drop, A.stop('stable'), A.down('manual-stop')),
  },
];

describe('variants: passive peers, pending backoff, hold time negotiation, hold time 0', () => {
  it.each(VARIANTS)('$name', ({ from, event, expected }) => {
    const before = from();
    const result = step(before, event);
    expect(result.actions).toEqual(expected.actions);
    const to = expected.to ?? before.state;
    expect(result.state.state).toBe(to);
    if (to === before.state) expect(result.transition).toBeUndefined();
    else expect(result.transition).toEqual({ from: before.state, to, reason: expected.reason });
  });
});

describe('negotiated timers in the snapshot', () => {
  it.each([
    { local: 90, peer: 90, hold: 90, keepalive: 30 },
    { local: 90, peer: 3, hold: 3, keepalive: 1 },
    { local: 10, peer: 90, hold: 10, keepalive: 3 },
    { local: 0, peer: 90, hold: 0, keepalive: 0 },
    { local: 90, peer: 0, hold: 0, keepalive: 0 },
    { local: 65535, peer: 65535, hold: 65535, keepalive: 21845 },
  ])('local $local, peer $peer → hold $hold, keepalive $keepalive', ({ local, peer, hold, keepalive }) => {
    const s = reach('Established', { holdTimeS: local }, peer);
    expect(s.negotiated).toEqual({ holdTimeS: hold, keepaliveTimeS: keepalive });
  });

  it('clears the negotiated timers on the way to Idle', () => {
    expect(step(reach('Established'), { type: 'TcpConnectionFails' }).state.negotiated).toBeNull();
  });
});

describe('ConnectRetryCounter (RFC 4271 §8.2.2)', () => {
  it.each([
    { state: 'Connect' as const, event: 'TcpConnectionFails' as const, counter: 0 },
    { state: 'Active' as const, event: 'TcpConnectionFails' as const, counter: 1 },
    { state: 'Connect' as const, event: 'KeepAliveMsg' as const, counter: 1 },
    { state: 'OpenSent' as const, event: 'NotifMsgVerErr' as const, counter: 0 },
    { state: 'OpenSent' as const, event: 'HoldTimerExpires' as const, counter: 1 },
    { state: 'OpenConfirm' as const, event: 'NotifMsgVerErr' as const, counter: 0 },
    { state: 'OpenConfirm' as const, event: 'NotifMsg' as const, counter: 1 },
    { state: 'Established' as const, event: 'UpdateMsgErr' as const, counter: 1 },
    { state: 'Established' as const, event: 'ManualStop' as const, counter: 0 },
  ])('$state + $event → $counter', ({ state, event, counter }) => {
    expect(step(reach(state), sampleEvent(event)).state.connectRetryCounter).toBe(counter);
  });

  it('ManualStop resets a non-zero counter', () => {
    const s = run2(reach('Established'), ['NotifMsg', 'IdleHoldTimerExpires', 'TcpCrAcked', 'BGPOpen', 'KeepAliveMsg']);
    expect(s.connectRetryCounter).toBe(1);
    expect(step(s, { type: 'ManualStop' }).state.connectRetryCounter).toBe(0);
  });
});

function run2(s: ReturnType<typeof reach>, events: FsmEventType[]): ReturnType<typeof reach> {
  return events.reduce((acc, e) => step(acc, sampleEvent(e)).state, s);
}

describe('transition log line', () => {
  it('formats from → to (reason)', () => {
    const { transition } = step(reach('Idle'), { type: 'ManualStart' });
    expect(formatTransition(transition!)).toBe('Idle → Connect (manual-start)');
  });
});
