/**
 * The dataplane's errors, one class per failure. Sorted as the package README says:
 * {@link DataplaneConfigError} is a validation error (shown to the user, never retried),
 * {@link NamespaceGuardError} is a validation error of the environment (a test pointed the
 * dataplane at the machine's own network namespace), {@link IprouteError} is
 * stop-and-re-evaluate (the table could not be read; the agent retries on its next sync).
 * A route that cannot be written is not an error at all: it is a `RouteFailure` value in the
 * `ReconcileReport`.
 */

/** A table, protocol or other option the dataplane cannot work with (`open()` refuses it). */
export class DataplaneConfigError extends Error {
  override readonly name = 'DataplaneConfigError';
  constructor(
    message: string,
    /** The option at fault: `table`, `protocol`, `netns`, `ipPath`. */
    readonly option: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Type guard for {@link DataplaneConfigError} (also one from another copy of this package). */
export function isDataplaneConfigError(err: unknown): err is DataplaneConfigError {
  return err instanceof DataplaneConfigError || (err instanceof Error && err.name === 'DataplaneConfigError' && 'option' in err);
}

/** Under a test, the dataplane would have programmed the machine's own network namespace. */
export class NamespaceGuardError extends Error {
  override readonly name = 'NamespaceGuardError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Type guard for {@link NamespaceGuardError}. */
export function isNamespaceGuardError(err: unknown): err is NamespaceGuardError {
  return err instanceof NamespaceGuardError || (err instanceof Error && err.name === 'NamespaceGuardError');
}

/** `ip` could not be run, or its answer could not be read (the table is unknown). */
export class IprouteError extends Error {
  override readonly name = 'IprouteError';
  constructor(
    message: string,
    /** The `ip` arguments that failed, for logs. */
    readonly args: readonly string[],
    /** What `ip` wrote to stderr (may be empty). */
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Type guard for {@link IprouteError}. */
export function isIprouteError(err: unknown): err is IprouteError {
  return err instanceof IprouteError || (err instanceof Error && err.name === 'IprouteError' && 'args' in err);
}
