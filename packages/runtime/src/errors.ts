import { Metadata, status, type StatusObject } from '@grpc/grpc-js';

/**
 * The closed set of failure reasons a Tabby service reports. Every domain error carries
 * one as `reason`; {@link toGrpcStatus} is the one place that turns them into gRPC codes.
 * (Domain errors never carry a numeric `code`: grpc-js would send it as the status.)
 */
export const ERROR_REASONS = [
  'invalid-argument',
  'not-found',
  'already-exists',
  'conflict',
  'failed-precondition',
  'out-of-range',
  'unavailable',
  'aborted',
  'resource-exhausted',
  'deadline-exceeded',
  'cancelled',
  'internal',
] as const;

export type ErrorReason = (typeof ERROR_REASONS)[number];

/** Anything with a known `reason` can be mapped to a gRPC status. */
export interface ReasonedError {
  readonly reason: ErrorReason;
  readonly message: string;
}

const reasonSet: ReadonlySet<string> = new Set(ERROR_REASONS);

/** Type guard: an Error that carries one of {@link ERROR_REASONS}. */
export function isReasonedError(err: unknown): err is ReasonedError & Error {
  if (!(err instanceof Error)) return false;
  const reason = (err as Error & { reason?: unknown }).reason;
  return typeof reason === 'string' && reasonSet.has(reason);
}

/** A generic service failure with a reason, for code that has no more specific class. */
export class ServiceError extends Error implements ReasonedError {
  override readonly name = 'ServiceError';
  constructor(
    readonly reason: ErrorReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Type guard for {@link ServiceError}. */
export function isServiceError(err: unknown): err is ServiceError {
  return err instanceof ServiceError;
}

const codeByReason: Record<ErrorReason, status> = {
  'invalid-argument': status.INVALID_ARGUMENT,
  'not-found': status.NOT_FOUND,
  'already-exists': status.ALREADY_EXISTS,
  conflict: status.FAILED_PRECONDITION,
  'failed-precondition': status.FAILED_PRECONDITION,
  'out-of-range': status.OUT_OF_RANGE,
  unavailable: status.UNAVAILABLE,
  aborted: status.ABORTED,
  'resource-exhausted': status.RESOURCE_EXHAUSTED,
  'deadline-exceeded': status.DEADLINE_EXCEEDED,
  cancelled: status.CANCELLED,
  internal: status.INTERNAL,
};

/**
 * Maps any thrown value to the gRPC status a client receives. Known reasons keep their
 * message; anything else is INTERNAL with a generic message (details go to the log, not
 * to the client).
 */
export function toGrpcStatus(err: unknown): Partial<StatusObject> & { code: status; details: string } {
  if (isReasonedError(err)) {
    const metadata = new Metadata();
    metadata.set('tabby-reason', err.reason);
    return { code: codeByReason[err.reason], details: err.message, metadata };
  }
  return { code: status.INTERNAL, details: 'internal error (see the service log)' };
}

/** The reason behind a gRPC status received by a client. */
export function reasonFromGrpcCode(code: number): ErrorReason {
  for (const [reason, c] of Object.entries(codeByReason) as [ErrorReason, number][]) {
    if (c === code && reason !== 'failed-precondition') return reason;
  }
  return 'internal';
}
