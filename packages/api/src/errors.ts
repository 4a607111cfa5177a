/**
 * Errors of the resource model. Each has a fixed `name`, a `reason` from the runtime's
 * closed set (so one mapper turns it into a gRPC status) and a type guard. Texts follow
 * Calico's (libcalico-go lib/errors) so runbooks and scripts keep working.
 */

/** One field that failed validation. */
export interface FieldError {
  /** Calico's name for the field, e.g. `IPPool.Spec.CIDR` or `Metadata.Name`. */
  readonly field: string;
  /** Path of the field in the manifest, e.g. `spec.cidr`, `spec.allowedUses[1]`. */
  readonly path: string;
  /** The offending value as text, when there is one. */
  readonly value?: string;
  readonly reason: string;
}

/** Renders one field as Calico does: `Name = 'value' (reason)`. */
export function formatFieldError(e: FieldError): string {
  return `${e.field}${e.value !== undefined ? ` = '${e.value}'` : ''}${e.reason ? ` (${e.reason})` : ''}`;
}

/** Calico's validation message for a list of field errors. */
export function validationMessage(errors: readonly FieldError[]): string {
  if (errors.length === 0) return 'unknown validation error';
  if (errors.length === 1) return `error with field ${formatFieldError(errors[0])}`;
  return `error with the following fields:\n${errors.map((e) => `-  ${formatFieldError(e)}\n`).join('')}`;
}

/** A resource failed validation; `fields` says which and why. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  readonly reason = 'invalid-argument' as const;
  constructor(
    readonly fields: readonly FieldError[],
    options?: ErrorOptions,
  ) {
    super(validationMessage(fields), options);
  }
}

export function isValidationError(err: unknown): err is ValidationError {
  return err instanceof ValidationError;
}

/** `resource does not exist: IPPool(blah) with error: <nil>` */
export class ResourceNotFoundError extends Error {
  override readonly name = 'ResourceNotFoundError';
  readonly reason = 'not-found' as const;
  constructor(
    readonly id: string,
    options?: ErrorOptions,
  ) {
    super(`resource does not exist: ${id} with error: <nil>`, options);
  }
}

export function isResourceNotFoundError(err: unknown): err is ResourceNotFoundError {
  return err instanceof ResourceNotFoundError;
}

/** `resource already exists: IPPool(blah)` */
export class ResourceAlreadyExistsError extends Error {
  override readonly name = 'ResourceAlreadyExistsError';
  readonly reason = 'already-exists' as const;
  constructor(
    readonly id: string,
    options?: ErrorOptions,
  ) {
    super(`resource already exists: ${id}`, options);
  }
}

export function isResourceAlreadyExistsError(err: unknown): err is ResourceAlreadyExistsError {
  return err instanceof ResourceAlreadyExistsError;
}

/**
 * A write whose resourceVersion precondition no longer holds:
 * `update conflict: IPPool(blah): resource version '5' is out of date (latest: 7). ...`
 */
export class UpdateConflictError extends Error {
  override readonly name = 'UpdateConflictError';
  readonly reason = 'conflict' as const;
  constructor(
    readonly id: string,
    readonly expected: string,
    readonly latest: string,
    options?: ErrorOptions,
  ) {
    super(
      `update conflict: ${id}: resource version '${expected}' is out of date (latest: ${latest}). Update the resource YAML/JSON in order to make changes`,
      options,
    );
  }
}

export function isUpdateConflictError(err: unknown): err is UpdateConflictError {
  return err instanceof UpdateConflictError;
}

/** `operation Create is not supported on Node(x): reason` */
export class OperationNotSupportedError extends Error {
  override readonly name = 'OperationNotSupportedError';
  readonly reason = 'failed-precondition' as const;
  constructor(
    readonly operation: string,
    readonly id: string,
    detail?: string,
    options?: ErrorOptions,
  ) {
    super(`operation ${operation} is not supported on ${id}${detail ? `: ${detail}` : ''}`, options);
  }
}

export function isOperationNotSupportedError(err: unknown): err is OperationNotSupportedError {
  return err instanceof OperationNotSupportedError;
}

/** A kind name or alias that no resource has: `resource type 'foo' is not supported`. */
export class UnknownKindError extends Error {
  override readonly name = 'UnknownKindError';
  readonly reason = 'invalid-argument' as const;
  constructor(
    readonly kind: string,
    options?: ErrorOptions,
  ) {
    super(`resource type '${kind}' is not supported`, options);
  }
}

export function isUnknownKindError(err: unknown): err is UnknownKindError {
  return err instanceof UnknownKindError;
}

/** Where in a manifest a problem is: 1-based document number, line and column. */
export interface ManifestLocation {
  readonly document: number;
  readonly line: number;
  readonly column: number;
}

/**
 * A manifest that cannot be read: YAML syntax, unknown kind or apiVersion, unknown field,
 * wrong type. The message names the document, the line and column, the field path and
 * the problem.
 */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  readonly reason = 'invalid-argument' as const;
  constructor(
    readonly problem: string,
    readonly location: ManifestLocation | undefined,
    readonly path: string | undefined,
    readonly source: string | undefined,
    options?: ErrorOptions,
  ) {
    super(formatManifestProblem(problem, location, path, source), options);
  }
}

export function isManifestError(err: unknown): err is ManifestError {
  return err instanceof ManifestError;
}

function formatManifestProblem(problem: string, loc: ManifestLocation | undefined, path: string | undefined, source: string | undefined): string {
  const where: string[] = [];
  if (source) where.push(source);
  if (loc) where.push(`document ${loc.document}, line ${loc.line}, column ${loc.column}`);
  const prefix = where.length > 0 ? `${where.join(': ')}: ` : '';
  return `${prefix}${path ? `${path}: ` : ''}${problem}`;
}
