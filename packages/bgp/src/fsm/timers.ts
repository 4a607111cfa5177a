/** Timer arithmetic: hold time negotiation, keepalive interval, backoff (pure functions). */
import type { IdleHoldConfig } from './types.js';

/** True for a Hold Time an OPEN may carry: 0 or 3..65535 seconds (RFC 4271 §4.2, §6.2). */
export function isValidHoldTime(holdTimeS: number): boolean {
  return Number.isInteger(holdTimeS) && (holdTimeS === 0 || (holdTimeS >= 3 && holdTimeS <= 65_535));
}

/** The session hold time: the smaller of ours and the peer's (RFC 4271 §4.2). 0 disables it. */
export function negotiateHoldTime(localS: number, peerS: number): number {
  return Math.min(localS, peerS);
}

/**
 * The keepalive interval for a negotiated hold time: a third of it, rounded down (RFC 4271
 * §4.4, §10), or the configured value when that is smaller. 0 when the hold time is 0.
 */
export function keepaliveTimeFor(negotiatedHoldS: number, configuredS: number | null): number {
  if (negotiatedHoldS === 0) return 0;
  const third = Math.max(1, Math.floor(negotiatedHoldS / 3));
  return configuredS === null ? third : Math.min(configuredS, third);
}

/**
 * Idle hold before automatic restart number `failures` (≥ 1):
 * `min(maxMs, initialMs × 2^(failures − 1))`.
 */
export function idleHoldDelayMs(idleHold: IdleHoldConfig, failures: number): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 52);
  return Math.min(idleHold.maxMs, idleHold.initialMs * 2 ** exponent);
}
