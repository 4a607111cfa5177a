/** The event table (RFC 4271 §8.1 numbers) and the timer ↔ event mapping. */
import type { FsmEvent, FsmEventType, TimerName } from './types.js';

/** One event kind: its RFC 4271 §8.1 number (null for Tabby extensions) and meaning. */
export interface FsmEventInfo {
  readonly rfcEvent: number | null;
  readonly description: string;
}

/** Every {@link FsmEventType} with its RFC number and a one-line description (exported data). */
export const FSM_EVENTS: Readonly<Record<FsmEventType, FsmEventInfo>> = {
  ManualStart: { rfcEvent: 1, description: 'operator starts the peer' },
  ManualStop: { rfcEvent: 2, description: 'operator stops the peer' },
  AutomaticStart: { rfcEvent: 3, description: 'system starts the peer' },
  AutomaticStop: { rfcEvent: 8, description: 'system stops the session' },
  ConnectRetryTimerExpires: { rfcEvent: 9, description: 'connect-retry timer fired' },
  HoldTimerExpires: { rfcEvent: 10, description: 'hold timer fired' },
  KeepaliveTimerExpires: { rfcEvent: 11, description: 'keepalive timer fired' },
  IdleHoldTimerExpires: { rfcEvent: 13, description: 'idle hold (backoff) timer fired' },
  StableTimerExpires: { rfcEvent: null, description: 'session stayed Established long enough to clear the backoff' },
  TcpCrAcked: { rfcEvent: 16, description: 'our outbound TCP connection succeeded' },
  TcpConnectionConfirmed: { rfcEvent: 17, description: 'an inbound TCP connection was accepted' },
  TcpConnectionFails: { rfcEvent: 18, description: 'the TCP connection failed or closed' },
  BGPOpen: { rfcEvent: 19, description: 'a valid OPEN arrived' },
  BGPHeaderErr: { rfcEvent: 21, description: 'a message header was invalid' },
  BGPOpenMsgErr: { rfcEvent: 22, description: 'an OPEN was invalid' },
  OpenCollisionDump: { rfcEvent: 23, description: 'this connection lost a collision' },
  NotifMsgVerErr: { rfcEvent: 24, description: 'the peer sent NOTIFICATION 2/1 (version)' },
  NotifMsg: { rfcEvent: 25, description: 'the peer sent a NOTIFICATION' },
  KeepAliveMsg: { rfcEvent: 26, description: 'a KEEPALIVE arrived' },
  UpdateMsg: { rfcEvent: 27, description: 'a valid UPDATE arrived' },
  UpdateMsgErr: { rfcEvent: 28, description: 'an UPDATE called for a session reset' },
  UpdateMsgSent: { rfcEvent: null, description: 'we sent an UPDATE' },
};

/** Every {@link FsmEventType}, in table order. */
export const FSM_EVENT_TYPES: readonly FsmEventType[] = Object.keys(FSM_EVENTS) as FsmEventType[];

const TIMER_EVENTS = {
  'connect-retry': 'ConnectRetryTimerExpires',
  hold: 'HoldTimerExpires',
  keepalive: 'KeepaliveTimerExpires',
  'idle-hold': 'IdleHoldTimerExpires',
  stable: 'StableTimerExpires',
} as const satisfies Record<TimerName, FsmEventType>;

type TimerEvent = Extract<FsmEvent, { type: (typeof TIMER_EVENTS)[TimerName] }>;

/** The event the driver feeds when timer `timer` fires. */
export function timerExpiredEvent(timer: TimerName): TimerEvent {
  return { type: TIMER_EVENTS[timer] };
}

/** The timer an event reports the expiry of, or undefined for other events. */
export function timerOfEvent(type: FsmEventType): TimerName | undefined {
  for (const [timer, eventType] of Object.entries(TIMER_EVENTS) as [TimerName, FsmEventType][]) {
    if (eventType === type) return timer;
  }
  return undefined;
}
