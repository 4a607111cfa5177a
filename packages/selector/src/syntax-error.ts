import type { SelectorParseError } from './parse-error.js';

/**
 * Thrown by `mustParseSelector` when a selector the program relies on (a
 * constant, a default) does not parse: a broken invariant, not user input.
 * `message` is the formatted error with its column; `detail` has the fields.
 */
export class SelectorSyntaxError extends Error {
  override readonly name = 'SelectorSyntaxError';
  /** Reason, Calico text, column and selector of the failure. */
  readonly detail: SelectorParseError;

  constructor(detail: SelectorParseError, options?: ErrorOptions) {
    super(detail.format(), options);
    this.detail = detail;
  }
}

/**
 * True for a {@link SelectorSyntaxError}, including one created by another
 * copy of this package (checked by `name` and `detail`).
 */
export function isSelectorSyntaxError(error: unknown): error is SelectorSyntaxError {
  if (error instanceof SelectorSyntaxError) {
    return true;
  }
  return error instanceof Error && error.name === 'SelectorSyntaxError' && 'detail' in error;
}
