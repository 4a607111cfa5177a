/**
 * FSM configuration: defaults (RFC 4271 §10 and BIRD's error wait times), validation that
 * returns issues as values, and resolution to a {@link ResolvedFsmConfig}.
 */
import { FsmConfigError, type FsmConfigIssue } from './errors.js';
import type { ResolvedFsmConfig } from './types.js';

/** What a caller may set; every field is optional and defaults to {@link DEFAULT_FSM_CONFIG}. */
export interface FsmConfig {
  /** Never initiate: wait in Active for the peer to connect. Default false. */
  readonly passive?: boolean;
  /** ConnectRetryTime in ms. Default 120 000 (RFC 4271 §10). */
  readonly connectRetryTimeMs?: number;
  /** Hold time proposed in our OPEN, seconds: 0 or 3..65535. Default 90 (RFC 4271 §10). */
  readonly holdTimeS?: number;
  /** Keepalive interval, seconds (≥ 1); capped at a third of the negotiated hold time. */
  readonly keepaliveTimeS?: number;
  /** Hold time in OpenSent, seconds. Default 240 (RFC 4271 §8.2.2 "4 minutes"). */
  readonly largeHoldTimeS?: number;
  /** Automatic restart backoff. */
  readonly idleHold?: {
    readonly initialMs?: number;
    readonly maxMs?: number;
    readonly resetAfterMs?: number;
  };
}

/**
 * Defaults. Backoff: first restart after 5 s, doubling per consecutive failure up to 300 s
 * (BIRD's `error wait time` maximum); a session Established for 300 s (BIRD's
 * `error forget time`) clears the count.
 */
export const DEFAULT_FSM_CONFIG: ResolvedFsmConfig = {
  passive: false,
  connectRetryTimeMs: 120_000,
  holdTimeS: 90,
  keepaliveTimeS: null,
  largeHoldTimeS: 240,
  idleHold: { initialMs: 5_000, maxMs: 300_000, resetAfterMs: 300_000 },
};

/** Result of {@link validateFsmConfig}. */
export type FsmConfigResult =
  | { readonly ok: true; readonly config: ResolvedFsmConfig }
  | { readonly ok: false; readonly issues: readonly FsmConfigIssue[] };

const MAX_HOLD_S = 65_535;

function checkInt(issues: FsmConfigIssue[], field: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    issues.push({ field, message: `must be an integer in ${min}..${max}, got ${String(value)}` });
  }
}

/** Fills defaults and checks ranges; never throws. */
export function validateFsmConfig(input: FsmConfig = {}): FsmConfigResult {
  const d = DEFAULT_FSM_CONFIG;
  const config: ResolvedFsmConfig = {
    passive: input.passive ?? d.passive,
    connectRetryTimeMs: input.connectRetryTimeMs ?? d.connectRetryTimeMs,
    holdTimeS: input.holdTimeS ?? d.holdTimeS,
    keepaliveTimeS: input.keepaliveTimeS ?? d.keepaliveTimeS,
    largeHoldTimeS: input.largeHoldTimeS ?? d.largeHoldTimeS,
    idleHold: {
      initialMs: input.idleHold?.initialMs ?? d.idleHold.initialMs,
      maxMs: input.idleHold?.maxMs ?? d.idleHold.maxMs,
      resetAfterMs: input.idleHold?.resetAfterMs ?? d.idleHold.resetAfterMs,
    },
  };
  const issues: FsmConfigIssue[] = [];
  checkInt(issues, 'connectRetryTimeMs', config.connectRetryTimeMs, 1);
  if (config.holdTimeS !== 0) checkInt(issues, 'holdTimeS', config.holdTimeS, 3, MAX_HOLD_S);
  if (config.keepaliveTimeS !== null) checkInt(issues, 'keepaliveTimeS', config.keepaliveTimeS, 1, MAX_HOLD_S);
  checkInt(issues, 'largeHoldTimeS', config.largeHoldTimeS, 3, MAX_HOLD_S);
  checkInt(issues, 'idleHold.initialMs', config.idleHold.initialMs, 1);
  checkInt(issues, 'idleHold.maxMs', config.idleHold.maxMs, config.idleHold.initialMs);
  checkInt(issues, 'idleHold.resetAfterMs', config.idleHold.resetAfterMs, 1);
  return issues.length === 0 ? { ok: true, config } : { ok: false, issues };
}

/** Like {@link validateFsmConfig} but throws {@link FsmConfigError} listing every issue. */
export function resolveFsmConfig(input: FsmConfig = {}): ResolvedFsmConfig {
  const result = validateFsmConfig(input);
  if (!result.ok) throw new FsmConfigError(result.issues);
  return result.config;
}
