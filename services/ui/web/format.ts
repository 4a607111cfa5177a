/** How states and times read on the page. */
import type { SessionState } from '../src/view.js';

/** The colour family of a state: the graph, the session list and the legend agree on it. */
export type StateClass = 'up' | 'start' | 'down' | 'unknown';

export function stateClass(s: SessionState): StateClass {
  switch (s) {
    case 'Established':
      return 'up';
    case 'Active':
    case 'Connect':
    case 'OpenSent':
    case 'OpenConfirm':
      return 'start';
    case 'Idle':
      return 'down';
    default:
      return 'unknown';
  }
}

export const STATE_COLOURS: Record<StateClass, string> = { up: '#2e9e44', start: '#e0a100', down: '#d23c3c', unknown: '#9aa0a6' };

/** A duration as `3m12s`, `2h05m`, `4d3h`: short enough for a tooltip. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const hr = Math.floor(m / 60);
  if (hr < 24) return `${hr}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(hr / 24)}d${hr % 24}h`;
}

/** How long since an RFC 3339 time, '' when unknown. */
export function age(since: string, now = Date.now()): string {
  if (!since) return '';
  const t = Date.parse(since);
  return Number.isNaN(t) ? '' : duration(now - t);
}

/** `Established for 3m12s` (or just the state when its start is unknown). */
export function stateFor(state: SessionState, since: string, now = Date.now()): string {
  const a = age(since, now);
  return a ? `${state} for ${a}` : state;
}
