/**
 * A tiny driver for tests: runs `step`, keeps the timers the actions ask for on a fake clock,
 * fires them in deadline order (ties in start order) and records everything else it was told
 * to do. No sockets, no real timers.
 */
import {
  createSnapshot,
  formatTransition,
  step,
  timerExpiredEvent,
  type FsmAction,
  type FsmConfig,
  type FsmEvent,
  type FsmSnapshot,
  type FsmStep,
  type TimerName,
} from '../../../src/fsm/index.js';

export interface Effect {
  readonly at: number;
  readonly action: FsmAction;
}

export class FakeDriver {
  now = 0;
  snapshot: FsmSnapshot;
  readonly log: string[] = [];
  readonly effects: Effect[] = [];
  private readonly timers = new Map<TimerName, { at: number; seq: number }>();
  private seq = 0;

  constructor(config: FsmConfig = {}) {
    this.snapshot = createSnapshot(config);
  }

  feed(event: FsmEvent): FsmStep {
    const result = step(this.snapshot, event);
    this.snapshot = result.state;
    if (result.transition) this.log.push(formatTransition(result.transition));
    for (const action of result.actions) {
      if (action.type === 'startTimer') {
        if (this.timers.has(action.timer)) throw new Error(`timer ${action.timer} started twice`);
        this.timers.set(action.timer, { at: this.now + action.ms, seq: this.seq++ });
      } else if (action.type === 'stopTimer') {
        if (!this.timers.delete(action.timer)) throw new Error(`timer ${action.timer} stopped while not running`);
      } else {
        this.effects.push({ at: this.now, action });
      }
    }
    return result;
  }

  /** Moves the clock forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      let next: [TimerName, { at: number; seq: number }] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at > until) continue;
        if (next === undefined || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq)) next = entry;
      }
      if (next === undefined) break;
      this.now = next[1].at;
      this.timers.delete(next[0]);
      this.feed(timerExpiredEvent(next[0]));
    }
    this.now = until;
  }

  /** Deadline of each running timer. */
  deadlines(): Partial<Record<TimerName, number>> {
    return Object.fromEntries([...this.timers].map(([name, t]) => [name, t.at]));
  }

  /** Effects of one type recorded so far, with their times. */
  sent(type: FsmAction['type']): number[] {
    return this.effects.filter((e) => e.action.type === type).map((e) => e.at);
  }
}
