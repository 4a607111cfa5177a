/** Shared fixtures for the FSM tests: action builders, sample events, reaching a state. */
import type { NotificationSpec } from '../../../src/errors.js';
import {
  createSnapshot,
  step,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmEventType,
  type FsmReason,
  type FsmSnapshot,
  type FsmState,
  type TimerName,
} from '../../../src/fsm/index.js';

export const spec = (code: number, subcode: number): NotificationSpec => ({ code, subcode, data: new Uint8Array(0) });

export const HEADER_ERR = spec(1, 2);
export const OPEN_ERR = spec(2, 2);
export const UPDATE_ERR = spec(3, 1);

/** Action builders, so expectations read like the RFC's lists. */
export const A = {
  connect: { type: 'connect' } as FsmAction,
  drop: { type: 'drop' } as FsmAction,
  sendOpen: (holdTimeS = 90): FsmAction => ({ type: 'sendOpen', holdTimeS }),
  keepalive: { type: 'sendKeepalive' } as FsmAction,
  notify: (code: number, subcode: number): FsmAction => ({ type: 'sendNotification', notification: spec(code, subcode) }),
  start: (timer: TimerName, ms: number): FsmAction => ({ type: 'startTimer', timer, ms }),
  stop: (timer: TimerName): FsmAction => ({ type: 'stopTimer', timer }),
  up: (holdTimeS = 90, keepaliveTimeS = 30): FsmAction => ({ type: 'sessionUp', holdTimeS, keepaliveTimeS }),
  down: (reason: FsmReason): FsmAction => ({ type: 'sessionDown', reason }),
};

/** A representative event of each type (BGPOpen proposes 90 s; errors carry fixed specs). */
export function sampleEvent(type: FsmEventType): FsmEvent {
  switch (type) {
    case 'BGPOpen':
      return { type, holdTimeS: 90 };
    case 'BGPHeaderErr':
      return { type, notification: HEADER_ERR };
    case 'BGPOpenMsgErr':
      return { type, notification: OPEN_ERR };
    case 'UpdateMsgErr':
      return { type, notification: UPDATE_ERR };
    default:
      return { type };
  }
}

/** Applies events in order, returning the final snapshot. */
export function run(snapshot: FsmSnapshot, events: readonly FsmEvent[]): FsmSnapshot {
  return events.reduce((s, e) => step(s, e).state, snapshot);
}

/**
 * A snapshot in `state`, reached through real events. Active for an active peer goes through
 * OpenSent and a TCP failure (so its connect-retry timer runs); for a passive one it is the
 * result of ManualStart. `peerHoldTimeS` is what the peer's OPEN proposes.
 */
export function reach(state: FsmState, config: FsmConfig = {}, peerHoldTimeS = 90): FsmSnapshot {
  const idle = createSnapshot(config);
  const open: FsmEvent[] = [{ type: 'BGPOpen', holdTimeS: peerHoldTimeS }];
  const passive = config.passive === true;
  const toOpenSent: FsmEvent[] = passive
    ? [{ type: 'ManualStart' }, { type: 'TcpConnectionConfirmed' }]
    : [{ type: 'ManualStart' }, { type: 'TcpCrAcked' }];
  const paths: Record<FsmState, FsmEvent[]> = {
    Idle: [],
    Connect: [{ type: 'ManualStart' }],
    Active: passive ? [{ type: 'ManualStart' }] : [...toOpenSent, { type: 'TcpConnectionFails' }],
    OpenSent: toOpenSent,
    OpenConfirm: [...toOpenSent, ...open],
    Established: [...toOpenSent, ...open, { type: 'KeepAliveMsg' }],
  };
  const s = run(idle, paths[state]);
  if (s.state !== state) throw new Error(`could not reach ${state}: got ${s.state}`);
  return s;
}

/** Deterministic PRNG (mulberry32) for the property-style run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
