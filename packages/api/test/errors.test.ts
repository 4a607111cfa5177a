import { describe, expect, it } from 'vitest';
import {
  ManifestError,
  OperationNotSupportedError,
  ResourceAlreadyExistsError,
  ResourceNotFoundError,
  UnknownKindError,
  UpdateConflictError,
  ValidationError,
  isManifestError,
  isOperationNotSupportedError,
  isResourceAlreadyExistsError,
  isResourceNotFoundError,
  isUnknownKindError,
  isUpdateConflictError,
  isValidationError,
} from '../src/index.js';

const guards = [isValidationError, isResourceNotFoundError, isResourceAlreadyExistsError, isUpdateConflictError, isOperationNotSupportedError, isUnknownKindError, isManifestError];

/** Each error: Calico's text (docs/calico-compat.md §0.1), its fixed name, its reason and the one guard that accepts it. */
describe('error classes', () => {
  it.each([
    [new ValidationError([]), 'unknown validation error', 'ValidationError', 'invalid-argument', isValidationError],
    [new ResourceNotFoundError('IPPool(blah)'), 'resource does not exist: IPPool(blah) with error: <nil>', 'ResourceNotFoundError', 'not-found', isResourceNotFoundError],
    [new ResourceAlreadyExistsError('IPPool(blah)'), 'resource already exists: IPPool(blah)', 'ResourceAlreadyExistsError', 'already-exists', isResourceAlreadyExistsError],
    [
      new UpdateConflictError('IPPool(blah)', '5', '7'),
      "update conflict: IPPool(blah): resource version '5' is out of date (latest: 7). Update the resource YAML/JSON in order to make changes",
      'UpdateConflictError',
      'conflict',
      isUpdateConflictError,
    ],
    [new OperationNotSupportedError('Create', 'Node(node1)'), 'operation Create is not supported on Node(node1)', 'OperationNotSupportedError', 'failed-precondition', isOperationNotSupportedError],
    [
      new OperationNotSupportedError('Delete', 'BGPConfiguration(default)', 'the default BGPConfiguration cannot be deleted'),
      'operation Delete is not supported on BGPConfiguration(default): the default BGPConfiguration cannot be deleted',
      'OperationNotSupportedError',
      'failed-precondition',
      isOperationNotSupportedError,
    ],
    [new UnknownKindError('somekind'), "resource type 'somekind' is not supported", 'UnknownKindError', 'invalid-argument', isUnknownKindError],
    [new ManifestError('bad', { document: 1, line: 2, column: 3 }, 'spec.x', 'f.yaml'), 'f.yaml: document 1, line 2, column 3: spec.x: bad', 'ManifestError', 'invalid-argument', isManifestError],
  ] as const)('%s', (err, message, name, reason, guard) => {
    expect([err.message, err.name, err.reason]).toEqual([message, name, reason]);
    expect(err).toBeInstanceOf(Error);
    expect(guards.map((g) => g(err))).toEqual(guards.map((g) => g === guard));
    // grpc-js sends a numeric `code` as the status: domain errors must not have one.
    expect('code' in err).toBe(false);
  });

  it('keeps the cause it is given', () => {
    const cause = new Error('etcd: key not found');
    expect(new ResourceNotFoundError('Node(x)', { cause }).cause).toBe(cause);
  });
});
