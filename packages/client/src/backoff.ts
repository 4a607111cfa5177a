/** How a retry loop waits between attempts. */
export interface BackoffOptions {
  /** First pause (ms); default 200. */
  readonly initialMs?: number;
  /** Largest pause (ms); default 5,000. */
  readonly maxMs?: number;
  /** Each failure multiplies the pause by this; default 2. */
  readonly factor?: number;
  /**
   * Share of each pause drawn at random (0: none, 1: anywhere from 0 to the pause); default
   * 0.2. Replicas that lost the same server together then do not come back in step.
   */
  readonly jitter?: number;
  /** Where the randomness comes from (tests); default Math.random. */
  readonly random?: () => number;
}

/**
 * Exponential backoff with jitter and a cap: `next()` is the pause before the next attempt,
 * `reset()` after a success starts again from the first pause. One object per retry loop.
 */
export class Backoff {
  private readonly initial: number;
  private readonly max: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private current: number;
  private failuresValue = 0;

  constructor(opts: BackoffOptions = {}) {
    this.initial = opts.initialMs ?? 200;
    this.max = Math.max(opts.maxMs ?? 5_000, this.initial);
    this.factor = opts.factor ?? 2;
    this.jitter = Math.min(Math.max(opts.jitter ?? 0.2, 0), 1);
    this.random = opts.random ?? Math.random;
    if (!(this.initial >= 0) || !(this.factor >= 1)) throw new RangeError(`backoff: initialMs must be >= 0 and factor >= 1 (got ${this.initial}, ${this.factor})`);
    this.current = this.initial;
  }

  /** Failures since the last reset. */
  get failures(): number {
    return this.failuresValue;
  }

  /** The pause (ms) before the next attempt; counts a failure. */
  next(): number {
    this.failuresValue++;
    const base = this.current;
    this.current = Math.min(this.current * this.factor, this.max);
    return Math.round(base * (1 - this.jitter * this.random()));
  }

  /** After a success: the next failure waits the first pause again. */
  reset(): void {
    this.current = this.initial;
    this.failuresValue = 0;
  }
}

/**
 * Waits `ms`, or less when `signal` aborts (then it resolves, never rejects: the caller's loop
 * checks the signal). The timer does not keep the process alive.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    t.unref();
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface RetryOptions extends BackoffOptions {
  /** Stops retrying: `retry` then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** False for an error not worth retrying (it is thrown at once); default: retry everything. */
  readonly retryable?: (err: unknown) => boolean;
  /** Called after each failed attempt, before the pause (for logs). */
  readonly onFailure?: (err: unknown, attempt: number, pauseMs: number) => void;
  /** Gives up after this many attempts (the last error is thrown); default: never. */
  readonly maxAttempts?: number;
}

/** Runs `fn` until it succeeds, pausing by {@link Backoff} between attempts. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const backoff = new Backoff(opts);
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    try {
      return await fn(attempt);
    } catch (err) {
      if (opts.signal?.aborted) throw abortReason(opts.signal);
      if (opts.retryable && !opts.retryable(err)) throw err;
      if (opts.maxAttempts !== undefined && attempt >= opts.maxAttempts) throw err;
      const pause = backoff.next();
      opts.onFailure?.(err, attempt, pause);
      await sleep(pause, opts.signal);
    }
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('retry aborted');
}
