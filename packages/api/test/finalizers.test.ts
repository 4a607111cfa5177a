import { describe, expect, it } from 'vitest';
import { IPAM_ALLOCATIONS_FINALIZER, finalizerRefusal } from '../src/index.js';

describe('finalizerRefusal: why a delete is refused, and what to do', () => {
  it.each([
    [
      "tabby-ipam's finalizer on a pool: how to migrate",
      'IPPool',
      '',
      'default-ipv4-ippool',
      [IPAM_ALLOCATIONS_FINALIZER],
      'IPPool(default-ipv4-ippool) is still in use: finalizer ipam.tabby.io/allocations (tabby-ipam holds addresses in it). ' +
        'Disable the pool, recreate its workloads so they get addresses from another pool, then delete it ' +
        '(tabbyctl ipam migrate --from default-ipv4-ippool --to <new pool> --wait does all three); or delete with --force, which orphans those addresses.',
    ],
    [
      'finalizers of others: each named',
      'WorkloadEndpoint',
      'ns',
      'w',
      ['example.com/a', IPAM_ALLOCATIONS_FINALIZER],
      'WorkloadEndpoint(ns/w) is still in use: finalizers example.com/a, ipam.tabby.io/allocations (tabby-ipam holds addresses in it). ' +
        'Each is removed by the service that set it once that service no longer needs the object; delete it then, or delete with --force, which overrides them.',
    ],
  ] as const)('%s', (_name, kind, namespace, name, finalizers, message) => {
    expect(finalizerRefusal(kind, namespace, name, finalizers)).toBe(message);
  });
});
