/**
 * The model handed to an encoder cannot be put on the wire: a prefix with host bits set, a
 * missing mandatory attribute, a message over the size limit. This is a caller bug, not a
 * peer's fault, so it carries no NOTIFICATION.
 */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
}

/** Type guard for {@link EncodeError}. */
export function isEncodeError(err: unknown): err is EncodeError {
  return err instanceof EncodeError;
}
