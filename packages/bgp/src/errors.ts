/**
 * What to do about a malformed message (RFC 7606 §2). `session-reset`: send the
 * NOTIFICATION and close; `afisafi-disable`: stop using that family; `treat-as-withdraw`:
 * withdraw the UPDATE's prefixes; `attribute-discard`: drop the attribute and go on.
 */
export type ErrorAction = 'session-reset' | 'afisafi-disable' | 'treat-as-withdraw' | 'attribute-discard';

/** The NOTIFICATION a decode error calls for (RFC 4271 §4.5, §6). */
export interface NotificationSpec {
  readonly code: number;
  readonly subcode: number;
  readonly data: Uint8Array;
}

/**
 * A message that cannot be accepted as received. Ready for the wire: it carries the
 * NOTIFICATION code, subcode and data, and the RFC 7606 action. (Deliberately no numeric
 * `code` property: see the runtime's error rules.)
 */
export class BgpError extends Error {
  override readonly name = 'BgpError';
  constructor(
    message: string,
    readonly notification: NotificationSpec,
    readonly action: ErrorAction = 'session-reset',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function isBgpError(err: unknown): err is BgpError {
  return err instanceof BgpError;
}
