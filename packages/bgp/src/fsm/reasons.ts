/**
 * The closed set of reasons a state changes, each with the states it may leave and enter.
 * {@link step} refuses (throws FsmInvariantError) to produce a transition outside this table.
 */
import type { FsmReason, FsmState } from './types.js';

/** What a reason means and where it may apply. */
export interface FsmReasonInfo {
  /** One line for humans (CLI status, docs). */
  readonly description: string;
  /** States a transition with this reason may start from. */
  readonly from: readonly FsmState[];
  /** States a transition with this reason may end in. */
  readonly to: readonly FsmState[];
}

const RUNNING: readonly FsmState[] = ['Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'];
const HAS_SESSION: readonly FsmState[] = ['OpenSent', 'OpenConfirm', 'Established'];

/** Every {@link FsmReason} with its description and allowed states (exported data). */
export const FSM_REASONS: Readonly<Record<FsmReason, FsmReasonInfo>> = {
  'manual-start': {
    description: 'the operator started the peer',
    from: ['Idle'],
    to: ['Connect', 'Active'],
  },
  'automatic-start': {
    description: 'the system started the peer',
    from: ['Idle'],
    to: ['Connect', 'Active'],
  },
  'idle-hold-expired': {
    description: 'automatic restart after the idle hold (backoff) delay',
    from: ['Idle'],
    to: ['Connect', 'Active'],
  },
  'manual-stop': {
    description: 'the operator stopped the peer',
    from: RUNNING,
    to: ['Idle'],
  },
  'automatic-stop': {
    description: 'the system stopped the session (e.g. a prefix limit)',
    from: RUNNING,
    to: ['Idle'],
  },
  'connect-retry-expired': {
    description: 'the connect-retry timer fired: trying to connect again',
    from: ['Active'],
    to: ['Connect'],
  },
  'tcp-connected': {
    description: 'our outbound TCP connection succeeded; OPEN sent',
    from: ['Connect', 'Active'],
    to: ['OpenSent'],
  },
  'tcp-accepted': {
    description: 'an inbound TCP connection from the peer was accepted; OPEN sent',
    from: ['Connect', 'Active'],
    to: ['OpenSent'],
  },
  'tcp-failed': {
    description: 'the TCP connection failed or was closed',
    from: RUNNING,
    to: ['Idle', 'Active'],
  },
  'open-received': {
    description: "the peer's OPEN was accepted; hold time negotiated",
    from: ['OpenSent'],
    to: ['OpenConfirm'],
  },
  'keepalive-received': {
    description: "the peer's KEEPALIVE confirmed our OPEN; session up",
    from: ['OpenConfirm'],
    to: ['Established'],
  },
  'hold-timer-expired': {
    description: 'nothing heard from the peer within the hold time',
    from: HAS_SESSION,
    to: ['Idle'],
  },
  'notification-received': {
    description: 'the peer sent a NOTIFICATION',
    from: RUNNING,
    to: ['Idle'],
  },
  'header-error': {
    description: 'a message had a bad header (NOTIFICATION 1 sent)',
    from: RUNNING,
    to: ['Idle'],
  },
  'open-error': {
    description: 'the OPEN was not acceptable (NOTIFICATION 2 sent)',
    from: RUNNING,
    to: ['Idle'],
  },
  'update-error': {
    description: 'an UPDATE called for a session reset (NOTIFICATION 3 sent)',
    from: ['Established'],
    to: ['Idle'],
  },
  collision: {
    description: 'this connection lost a connection collision (Cease 7 sent)',
    from: RUNNING,
    to: ['Idle'],
  },
  'fsm-error': {
    description: 'an event not expected in this state (NOTIFICATION 5 sent once OPEN was sent)',
    from: RUNNING,
    to: ['Idle'],
  },
};

/** Every {@link FsmReason}, in table order. */
export const FSM_REASON_NAMES: readonly FsmReason[] = Object.keys(FSM_REASONS) as FsmReason[];

/** True when `from → to` is allowed for `reason` by {@link FSM_REASONS}. */
export function isAllowedTransition(reason: FsmReason, from: FsmState, to: FsmState): boolean {
  const info = FSM_REASONS[reason];
  return info.from.includes(from) && info.to.includes(to);
}

/** The log line for a transition: `Idle → Connect (manual-start)`. */
export function formatTransition(t: { readonly from: FsmState; readonly to: FsmState; readonly reason: FsmReason }): string {
  return `${t.from} → ${t.to} (${t.reason})`;
}
