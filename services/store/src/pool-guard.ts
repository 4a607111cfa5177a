import { status } from '@grpc/grpc-js';
import { idOf } from '@tabby/api';
import { IpamClient } from '@tabby/proto';
import { CLIENT_CHANNEL_OPTIONS, ServiceError, callUnary, channelCredentials, isGrpcError, type ClientTlsFiles } from '@tabby/runtime';

/** Asks IPAM whether a pool still holds addresses before the store deletes it. */
export type PoolGuard = (name: string, cidr: string) => Promise<void>;

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : word.endsWith('s') ? 'es' : 's'}`;

/**
 * Deleting an IPPool that still holds workload addresses breaks those workloads (no more
 * NAT or encapsulation for them, their routes no longer aggregated). With an ipam address
 * configured, the store refuses such a delete unless it is forced, and says how to migrate.
 * If IPAM cannot be asked, the delete is refused too: it cannot be known to be safe.
 */
export function ipamPoolGuard(address: string, tls: ClientTlsFiles = {}): { guard: PoolGuard; close(): void } {
  const client = new IpamClient(address, channelCredentials(tls), { ...CLIENT_CHANNEL_OPTIONS, 'grpc.max_reconnect_backoff_ms': 1000 });
  const guard: PoolGuard = async (name, cidr) => {
    const id = idOf('IPPool', '', name);
    let usage;
    try {
      usage = await callUnary(client.poolUsage.bind(client), { name, cidr }, { timeoutMs: 5000 });
    } catch (err) {
      const why = isGrpcError(err) ? (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED ? `tabby-ipam at ${address} is unreachable` : err.details) : String(err);
      throw new ServiceError('unavailable', `cannot tell whether ${id} is still in use (${why}); retry when tabby-ipam is up, or delete with --force`);
    }
    if (usage.allocations === 0) return;
    const names = usage.workloads.slice(0, 5).join(', ') + (usage.workloadCount > 5 ? `, and ${usage.workloadCount - 5} more` : '');
    throw new ServiceError(
      'failed-precondition',
      `${id} still has ${plural(usage.allocations, 'address')} in use by ${plural(usage.workloadCount, 'workload')} (${names}): deleting it would break them. ` +
        `Disable the pool, recreate those workloads so they get addresses from another pool, then delete it ` +
        `(tabbyctl ipam migrate --from ${name} --to <new pool> --wait does all three); or delete with --force.`,
    );
  };
  return { guard, close: () => client.close() };
}
