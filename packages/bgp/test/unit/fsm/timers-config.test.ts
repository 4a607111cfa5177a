/** Pure timer arithmetic (RFC 4271 §4.2, §4.4, §10), backoff, and configuration checks. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FSM_CONFIG,
  FSM_EVENTS,
  FSM_REASONS,
  FSM_REASON_NAMES,
  FSM_STATES,
  createSnapshot,
  idleHoldDelayMs,
  isFsmConfigError,
  isValidHoldTime,
  keepaliveTimeFor,
  negotiateHoldTime,
  timerExpiredEvent,
  timerOfEvent,
  TIMER_NAMES,
  validateFsmConfig,
} from '../../../src/fsm/index.js';

describe('hold time', () => {
  it.each([
    { hold: 0, valid: true },
    { hold: 1, valid: false },
    { hold: 2, valid: false },
    { hold: 3, valid: true },
    { hold: 90, valid: true },
    { hold: 65535, valid: true },
    { hold: 65536, valid: false },
    { hold: 2.5, valid: false },
    { hold: -1, valid: false },
  ])('isValidHoldTime($hold) = $valid', ({ hold, valid }) => {
    expect(isValidHoldTime(hold)).toBe(valid);
  });

  it.each([
    { local: 90, peer: 180, hold: 90 },
    { local: 180, peer: 90, hold: 90 },
    { local: 0, peer: 90, hold: 0 },
    { local: 90, peer: 0, hold: 0 },
    { local: 3, peer: 3, hold: 3 },
  ])('negotiateHoldTime($local, $peer) = $hold', ({ local, peer, hold }) => {
    expect(negotiateHoldTime(local, peer)).toBe(hold);
  });

  it.each([
    { hold: 90, configured: null, keepalive: 30 },
    { hold: 91, configured: null, keepalive: 30 },
    { hold: 3, configured: null, keepalive: 1 },
    { hold: 0, configured: null, keepalive: 0 },
    { hold: 0, configured: 10, keepalive: 0 },
    { hold: 90, configured: 10, keepalive: 10 },
    { hold: 90, configured: 60, keepalive: 30 },
    { hold: 9, configured: 60, keepalive: 3 },
  ])('keepaliveTimeFor($hold, $configured) = $keepalive', ({ hold, configured, keepalive }) => {
    expect(keepaliveTimeFor(hold, configured)).toBe(keepalive);
  });
});

describe('idleHoldDelayMs: min(maxMs, initialMs × 2^(failures − 1))', () => {
  const cfg = DEFAULT_FSM_CONFIG.idleHold;
  it.each([
    { failures: 1, ms: 5_000 },
    { failures: 2, ms: 10_000 },
    { failures: 3, ms: 20_000 },
    { failures: 4, ms: 40_000 },
    { failures: 5, ms: 80_000 },
    { failures: 6, ms: 160_000 },
    { failures: 7, ms: 300_000 },
    { failures: 8, ms: 300_000 },
    { failures: 10_000, ms: 300_000 },
  ])('failure $failures → $ms ms', ({ failures, ms }) => {
    expect(idleHoldDelayMs(cfg, failures)).toBe(ms);
  });
});

describe('configuration', () => {
  it('defaults follow RFC 4271 §10', () => {
    const result = validateFsmConfig();
    expect(result).toEqual({ ok: true, config: DEFAULT_FSM_CONFIG });
    expect(DEFAULT_FSM_CONFIG).toMatchObject({ connectRetryTimeMs: 120_000, holdTimeS: 90, largeHoldTimeS: 240, keepaliveTimeS: null });
  });

  it.each([
    { input: { holdTimeS: 1 }, field: 'holdTimeS' },
    { input: { holdTimeS: 2 }, field: 'holdTimeS' },
    { input: { holdTimeS: 65_536 }, field: 'holdTimeS' },
    { input: { holdTimeS: 30.5 }, field: 'holdTimeS' },
    { input: { keepaliveTimeS: 0 }, field: 'keepaliveTimeS' },
    { input: { connectRetryTimeMs: 0 }, field: 'connectRetryTimeMs' },
    { input: { largeHoldTimeS: 0 }, field: 'largeHoldTimeS' },
    { input: { idleHold: { initialMs: 0 } }, field: 'idleHold.initialMs' },
    { input: { idleHold: { initialMs: 10_000, maxMs: 5_000 } }, field: 'idleHold.maxMs' },
    { input: { idleHold: { resetAfterMs: -1 } }, field: 'idleHold.resetAfterMs' },
  ])('rejects $field in $input', ({ input, field }) => {
    const result = validateFsmConfig(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.map((i) => i.field)).toEqual([field]);
  });

  it('accepts hold time 0 and fills the rest', () => {
    const result = validateFsmConfig({ holdTimeS: 0, passive: true, idleHold: { maxMs: 60_000 } });
    expect(result.ok && result.config).toMatchObject({ holdTimeS: 0, passive: true, idleHold: { initialMs: 5_000, maxMs: 60_000 } });
  });

  it('createSnapshot throws FsmConfigError listing every issue', () => {
    let caught: unknown;
    try {
      createSnapshot({ holdTimeS: 2, keepaliveTimeS: 0 });
    } catch (err) {
      caught = err;
    }
    expect(isFsmConfigError(caught)).toBe(true);
    if (isFsmConfigError(caught)) {
      expect(caught.name).toBe('FsmConfigError');
      expect(caught.issues.map((i) => i.field)).toEqual(['holdTimeS', 'keepaliveTimeS']);
    }
  });

  it('a new snapshot is Idle with nothing running', () => {
    const s = createSnapshot();
    expect(s).toMatchObject({ state: 'Idle', negotiated: null, connectRetryCounter: 0, consecutiveFailures: 0 });
    expect(Object.values(s.timers).every((running) => !running)).toBe(true);
  });
});

describe('exported tables', () => {
  it('every reason has a description and valid states', () => {
    for (const name of FSM_REASON_NAMES) {
      const info = FSM_REASONS[name];
      expect(info.description.length).toBeGreaterThan(0);
      for (const s of [...info.from, ...info.to]) expect(FSM_STATES).toContain(s);
    }
  });

  it('RFC event numbers are unique', () => {
    const numbers = Object.values(FSM_EVENTS)
      .map((e) => e.rfcEvent)
      .filter((n) => n !== null);
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it.each(TIMER_NAMES.map((timer) => ({ timer })))('timer $timer ↔ its expiry event', ({ timer }) => {
    expect(timerOfEvent(timerExpiredEvent(timer).type)).toBe(timer);
  });
});
