/** A failure the command reports as one message on stderr, then exits with `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function isCliError(err: unknown): err is CliError {
  return err instanceof CliError;
}
