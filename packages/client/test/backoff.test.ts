import { describe, expect, it } from 'vitest';
import { Backoff, retry, sleep } from '../src/index.js';

describe('Backoff', () => {
  it('doubles from the first pause up to the cap, and starts over after reset', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(b.failures).toBe(6);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.next()).toBe(100);
  });

  it('draws each pause within its jitter share below the nominal pause', () => {
    const low = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5, random: () => 1 });
    expect(low.next()).toBe(500);
    const high = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5, random: () => 0 });
    expect(high.next()).toBe(1000);
    const real = new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.2 });
    for (let i = 0; i < 100; i++) {
      const p = real.next();
      expect(p).toBeGreaterThanOrEqual(800);
      expect(p).toBeLessThanOrEqual(1000);
    }
  });

  it('rejects a factor below 1 or a negative first pause, naming them', () => {
    expect(() => new Backoff({ factor: 0.5 })).toThrow(/factor >= 1/);
    expect(() => new Backoff({ initialMs: -1 })).toThrow(/initialMs must be >= 0/);
  });
});

describe('retry', () => {
  it('retries until the call succeeds, reporting each failure with its pause', async () => {
    const failures: string[] = [];
    let calls = 0;
    const v = await retry(
      (attempt) => {
        calls++;
        return attempt < 3 ? Promise.reject(new Error(`fail ${attempt}`)) : Promise.resolve('ok');
      },
      { initialMs: 1, maxMs: 4, jitter: 0, onFailure: (err, attempt, pause) => failures.push(`${(err as Error).message}@${attempt}:${pause}`) },
    );
    expect(v).toBe('ok');
    expect(calls).toBe(3);
    expect(failures).toEqual(['fail 1@1:1', 'fail 2@2:2']);
  });

  it('throws at once an error that is not retryable, and the last error after maxAttempts', async () => {
    let calls = 0;
    await expect(
      retry(
        () => {
          calls++;
          return Promise.reject(new Error('bad input'));
        },
        { initialMs: 1, retryable: (err) => !(err as Error).message.startsWith('bad') },
      ),
    ).rejects.toThrow('bad input');
    expect(calls).toBe(1);
    calls = 0;
    await expect(retry(() => Promise.reject(new Error(`attempt ${++calls}`)), { initialMs: 1, maxAttempts: 3 })).rejects.toThrow('attempt 3');
  });

  it('stops when its signal aborts, even during a pause', async () => {
    const controller = new AbortController();
    let calls = 0;
    const p = retry(
      () => {
        calls++;
        return Promise.reject(new Error('down'));
      },
      { initialMs: 60_000, signal: controller.signal },
    );
    await sleep(20);
    controller.abort(new Error('shutting down'));
    await expect(p).rejects.toThrow('shutting down');
    expect(calls).toBe(1);
  });
});

describe('sleep', () => {
  it('resolves early when its signal aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const p = sleep(60_000, controller.signal);
    controller.abort();
    await p;
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
