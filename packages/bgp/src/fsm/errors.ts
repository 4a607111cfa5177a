/**
 * Errors of the FSM module. Both are exceptions for callers that skipped a check or for bugs;
 * user input is checked with {@link validateFsmConfig}, which returns issues as values.
 */

/** One configuration field that is out of range. */
export interface FsmConfigIssue {
  /** Dotted path of the field, e.g. `holdTimeS` or `idleHold.maxMs`. */
  readonly field: string;
  readonly message: string;
}

/** {@link createSnapshot} was given a configuration that {@link validateFsmConfig} rejects. */
export class FsmConfigError extends Error {
  override readonly name = 'FsmConfigError';
  constructor(
    readonly issues: readonly FsmConfigIssue[],
    options?: ErrorOptions,
  ) {
    super(`invalid FSM configuration: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, options);
  }
}

export function isFsmConfigError(err: unknown): err is FsmConfigError {
  return err instanceof FsmConfigError;
}

/**
 * A broken invariant: a transition outside {@link FSM_REASONS}, or {@link resolveCollision}
 * called with identifiers that cannot collide. Indicates a bug in the caller or the FSM.
 */
export class FsmInvariantError extends Error {
  override readonly name = 'FsmInvariantError';
}

export function isFsmInvariantError(err: unknown): err is FsmInvariantError {
  return err instanceof FsmInvariantError;
}
