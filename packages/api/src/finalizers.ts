import { idOf, type KindInfo, type KindName } from './kinds.js';

/**
 * Set by tabby-ipam on an IPPool while blocks carved from the pool exist (they hold
 * workload addresses), removed when the pool's last block is released. The store refuses
 * to delete a pool that carries it, so deleting a pool in use needs `--force`.
 */
export const IPAM_ALLOCATIONS_FINALIZER = 'ipam.tabby.io/allocations';

interface KnownFinalizer {
  /** Who holds the object and why, for messages. */
  readonly why: string;
  /** What the user can do, given the object's name. */
  readonly advice: (name: string) => string;
}

/** The finalizers Tabby's services set, with what they mean (data for messages). */
const KNOWN_FINALIZERS: ReadonlyMap<string, KnownFinalizer> = new Map([
  [
    IPAM_ALLOCATIONS_FINALIZER,
    {
      why: 'tabby-ipam holds addresses in it',
      advice: (name: string) =>
        'Disable the pool, recreate its workloads so they get addresses from another pool, then delete it ' +
        `(tabbyctl ipam migrate --from ${name} --to <new pool> --wait does all three); or delete with --force, which orphans those addresses.`,
    },
  ],
]);

/**
 * Why a delete is refused while the object has finalizers, and what to do:
 * `IPPool(p) is still in use: finalizer ipam.tabby.io/allocations (tabby-ipam holds addresses in it). Disable ...`.
 */
export function finalizerRefusal(kind: KindInfo | KindName, namespace: string, name: string, finalizers: readonly string[]): string {
  const listed = finalizers.map((f) => {
    const known = KNOWN_FINALIZERS.get(f);
    return known ? `${f} (${known.why})` : f;
  });
  const known = finalizers.map((f) => KNOWN_FINALIZERS.get(f)).filter((k): k is KnownFinalizer => k !== undefined);
  const advice =
    known.length === finalizers.length && known.length === 1
      ? known[0].advice(name)
      : 'Each is removed by the service that set it once that service no longer needs the object; delete it then, or delete with --force, which overrides them.';
  return `${idOf(kind, namespace, name)} is still in use: finalizer${finalizers.length === 1 ? '' : 's'} ${listed.join(', ')}. ${advice}`;
}
