/**
 * Property-style run: seeded random event sequences (thousands of events per seed, a mix of
 * timer firings, "happy path" events and arbitrary events including stale timer expiries),
 * checking invariants after every step. A failure names the seed and the step to replay.
 */
import { describe, expect, it } from 'vitest';
import {
  FSM_EVENT_TYPES,
  FSM_REASON_NAMES,
  FSM_STATES,
  TIMER_NAMES,
  createSnapshot,
  idleHoldDelayMs,
  isAllowedTransition,
  keepaliveTimeFor,
  step,
  timerExpiredEvent,
  timerOfEvent,
  type FsmConfig,
  type FsmEvent,
  type FsmEventType,
  type FsmReason,
  type FsmSnapshot,
  type FsmState,
  type TimerName,
} from '../../../src/fsm/index.js';
import { prng, spec } from './helpers.js';

const SEEDS = Array.from({ length: 24 }, (_, i) => 0x5eed + i * 7919);
const EVENTS_PER_SEED = 3_000;
const HOLD_CHOICES = [0, 1, 2, 3, 4, 9, 30, 90, 240, 65_535];
const CONFIGS: FsmConfig[] = [
  {},
  { passive: true },
  { holdTimeS: 0 },
  { holdTimeS: 3, keepaliveTimeS: 10 },
  { passive: true, holdTimeS: 30, idleHold: { initialMs: 100, maxMs: 1_000, resetAfterMs: 500 } },
];

const HAPPY: Record<FsmState, FsmEventType[]> = {
  Idle: ['ManualStart', 'AutomaticStart'],
  Connect: ['TcpCrAcked', 'TcpConnectionConfirmed'],
  Active: ['TcpConnectionConfirmed', 'TcpCrAcked'],
  OpenSent: ['BGPOpen'],
  OpenConfirm: ['KeepAliveMsg'],
  Established: ['KeepAliveMsg', 'UpdateMsg', 'UpdateMsgSent'],
};

function randomEvent(type: FsmEventType, rnd: () => number): FsmEvent {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const randomSpec = () => spec(1 + Math.floor(rnd() * 6), Math.floor(rnd() * 12));
  switch (type) {
    case 'BGPOpen':
      return { type, holdTimeS: pick(HOLD_CHOICES) };
    case 'BGPHeaderErr':
    case 'BGPOpenMsgErr':
    case 'UpdateMsgErr':
      return { type, notification: randomSpec() };
    case 'ManualStop':
    case 'AutomaticStop':
      return rnd() < 0.5 ? { type } : { type, notification: randomSpec() };
    default:
      return { type };
  }
}

const runningTimers = (s: FsmSnapshot): TimerName[] => TIMER_NAMES.filter((t) => s.timers[t]);

describe('random event sequences keep the FSM invariants', () => {
  const seen = { states: new Set<FsmState>(), reasons: new Set<FsmReason>() };

  it.each(SEEDS.map((seed, i) => ({ seed, config: CONFIGS[i % CONFIGS.length] })))('seed $seed, config $config', ({ seed, config }) => {
    const rnd = prng(seed);
    let s = createSnapshot(config);
    const timers = new Set<TimerName>(); // what a driver would have armed
    let sessionUp = false;

    for (let i = 0; i < EVENTS_PER_SEED; i++) {
      const roll = rnd();
      const running = runningTimers(s);
      let event: FsmEvent;
      if (roll < 0.3 && running.length > 0) {
        event = timerExpiredEvent(running[Math.floor(rnd() * running.length)]);
      } else if (roll < 0.6) {
        const happy = HAPPY[s.state];
        event = randomEvent(happy[Math.floor(rnd() * happy.length)], rnd);
      } else {
        event = randomEvent(FSM_EVENT_TYPES[Math.floor(rnd() * FSM_EVENT_TYPES.length)], rnd);
      }
      // Checks are plain conditions (not one expect each) to keep 70 000 steps fast.
      const check = (ok: boolean, what: string): void => {
        if (!ok) throw new Error(`seed ${seed} step ${i} (${s.state} + ${event.type}): ${what}`);
      };

      const firedTimer = timerOfEvent(event.type);
      const stale = firedTimer !== undefined && !s.timers[firedTimer];
      if (firedTimer !== undefined && !stale) timers.delete(firedTimer);

      const before = s;
      const result = step(before, event);
      s = result.state;

      // Stale timer expiries change nothing.
      if (stale) check(result.state === before && result.actions.length === 0, 'stale timer expiry had an effect');

      // The state is always one of the six.
      check(FSM_STATES.includes(s.state), `invalid state ${String(s.state)}`);
      seen.states.add(s.state);

      // A transition is reported exactly when the state changes, with an allowed reason.
      const t = result.transition;
      if (s.state === before.state) {
        check(t === undefined, 'transition without a change of state');
      } else {
        check(t !== undefined, 'change of state without a transition');
        if (t !== undefined) {
          check(t.from === before.state && t.to === s.state, 'transition does not match the states');
          check(FSM_REASON_NAMES.includes(t.reason), `unknown reason ${t.reason}`);
          check(isAllowedTransition(t.reason, t.from, t.to), `reason ${t.reason} not allowed for ${t.from} → ${t.to}`);
          seen.reasons.add(t.reason);
        }
      }

      for (const action of result.actions) {
        switch (action.type) {
          case 'startTimer':
            // No timer is started twice without a stop (or its expiry) in between.
            check(!timers.has(action.timer), `${action.timer} started twice`);
            check(Number.isInteger(action.ms) && action.ms > 0, `bad duration ${action.ms}`);
            timers.add(action.timer);
            break;
          case 'stopTimer':
            check(timers.has(action.timer), `${action.timer} stopped while not running`);
            timers.delete(action.timer);
            break;
          case 'sessionUp':
            check(!sessionUp && t?.to === 'Established', 'sessionUp outside the move to Established');
            sessionUp = true;
            break;
          case 'sessionDown':
            check(sessionUp && t?.from === 'Established' && action.reason === t.reason, 'sessionDown outside leaving Established');
            sessionUp = false;
            break;
          case 'sendNotification':
            // NOTIFICATION only once our OPEN has been sent.
            check(['OpenSent', 'OpenConfirm', 'Established'].includes(before.state), 'NOTIFICATION before OPEN');
            break;
          case 'connect':
            check(!s.config.passive, 'a passive peer connected');
            break;
          case 'drop':
          case 'sendOpen':
          case 'sendKeepalive':
            break;
        }
      }

      // The snapshot agrees with the timers the driver holds.
      const snapshotTimers = runningTimers(s);
      check(snapshotTimers.length === timers.size && snapshotTimers.every((x) => timers.has(x)), 'snapshot timers differ from the driver');
      check(sessionUp === (s.state === 'Established'), 'session up/down out of step with Established');

      // Only the idle hold runs in Idle, and only there.
      if (s.state === 'Idle') check(snapshotTimers.every((x) => x === 'idle-hold'), 'timers other than idle-hold in Idle');
      else check(!s.timers['idle-hold'], 'idle-hold outside Idle');
      for (const a of result.actions) {
        if (a.type === 'startTimer' && a.timer === 'idle-hold') {
          check(a.ms === idleHoldDelayMs(s.config.idleHold, s.consecutiveFailures), 'idle hold not the backoff delay');
        }
      }

      // Established (and OpenConfirm) imply negotiated timers consistent with the hold time.
      if (s.state === 'Established' || s.state === 'OpenConfirm') {
        const n = s.negotiated;
        check(n !== null, 'no negotiated hold time');
        if (n !== null) {
          check(n.holdTimeS === 0 || (n.holdTimeS >= 3 && n.holdTimeS <= s.config.holdTimeS), `bad hold time ${n.holdTimeS}`);
          check(n.keepaliveTimeS === keepaliveTimeFor(n.holdTimeS, s.config.keepaliveTimeS), 'bad keepalive time');
          check(s.timers.hold === n.holdTimeS > 0 && s.timers.keepalive === n.holdTimeS > 0, 'hold/keepalive timers vs hold time');
        }
      } else {
        check(s.negotiated === null && !s.timers.keepalive, 'negotiated timers outside OpenConfirm/Established');
      }
      if (s.config.passive) check(!s.timers['connect-retry'], 'passive peer runs connect-retry');
      check(s.consecutiveFailures >= 0 && s.connectRetryCounter >= 0, 'negative counter');
    }
    expect(seen.states.size).toBeGreaterThan(0);
  });

  it('explored every state and every reason', () => {
    expect([...seen.states].sort()).toEqual([...FSM_STATES].sort());
    expect([...seen.reasons].sort()).toEqual([...FSM_REASON_NAMES].sort());
  });
});
