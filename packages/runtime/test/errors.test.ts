import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { ERROR_REASONS, ServiceError, isReasonedError, reasonFromGrpcCode, toGrpcStatus, type ErrorReason } from '../src/index.js';

describe('toGrpcStatus', () => {
  const table: [ErrorReason, status][] = [
    ['invalid-argument', status.INVALID_ARGUMENT],
    ['not-found', status.NOT_FOUND],
    ['already-exists', status.ALREADY_EXISTS],
    ['conflict', status.FAILED_PRECONDITION],
    ['failed-precondition', status.FAILED_PRECONDITION],
    ['out-of-range', status.OUT_OF_RANGE],
    ['unavailable', status.UNAVAILABLE],
    ['aborted', status.ABORTED],
    ['resource-exhausted', status.RESOURCE_EXHAUSTED],
    ['deadline-exceeded', status.DEADLINE_EXCEEDED],
    ['cancelled', status.CANCELLED],
    ['internal', status.INTERNAL],
  ];

  it('covers every reason', () => {
    expect(table.map(([r]) => r).sort()).toEqual([...ERROR_REASONS].sort());
  });

  it.each(table)('maps %s to its status and keeps the message', (reason, code) => {
    const st = toGrpcStatus(new ServiceError(reason, `it went ${reason}`));
    expect(st.code).toBe(code);
    expect(st.details).toBe(`it went ${reason}`);
  });

  it('maps any error class with a known reason, without a numeric code', () => {
    class Missing extends Error {
      readonly reason = 'not-found' as const;
    }
    expect(isReasonedError(new Missing('x'))).toBe(true);
    expect(toGrpcStatus(new Missing('resource does not exist: IPPool(a) with error: <nil>'))).toMatchObject({
      code: status.NOT_FOUND,
      details: 'resource does not exist: IPPool(a) with error: <nil>',
    });
  });

  it('hides unexpected errors behind INTERNAL', () => {
    expect(toGrpcStatus(new TypeError('secret stack detail'))).toEqual({ code: status.INTERNAL, details: 'internal error (see the service log)' });
    expect(toGrpcStatus({ reason: 'not-found' })).toMatchObject({ code: status.INTERNAL });
    expect(toGrpcStatus(Object.assign(new Error('x'), { reason: 'bogus' }))).toMatchObject({ code: status.INTERNAL });
  });

  it('reads a status back as a reason', () => {
    expect(reasonFromGrpcCode(status.FAILED_PRECONDITION)).toBe('conflict');
    expect(reasonFromGrpcCode(status.NOT_FOUND)).toBe('not-found');
    expect(reasonFromGrpcCode(status.DATA_LOSS)).toBe('internal');
  });
});
