import { parseIP } from '@tabby/api';
import type { ReleaseLeakedRequest, ReleaseLeakedResponse, ResourceStoreClient } from '@tabby/proto';
import { ServiceError, callUnary, isGrpcError } from '@tabby/runtime';
import type { IpamStorage } from './storage.js';

export interface ReleaseLeakedDeps {
  /** The storage without the migration lock's guard: this release runs under the lock. */
  readonly storage: IpamStorage;
  readonly store: ResourceStoreClient;
  /** True while the datastore is locked for a migration. */
  readonly locked: () => boolean;
}

/** Addresses WorkloadEndpoints use now (canonical text). */
async function addressesInUse(store: ResourceStoreClient): Promise<Set<string>> {
  let weps;
  try {
    weps = await callUnary(store.list.bind(store), { kind: 'WorkloadEndpoint', namespace: '', labelSelector: '' }, { timeoutMs: 30_000 });
  } catch (err) {
    throw new ServiceError('unavailable', `cannot list WorkloadEndpoints from the store: ${isGrpcError(err) ? err.details : String(err)}`);
  }
  const used = new Set<string>();
  for (const r of weps.items) {
    if (r.kind?.$case !== 'workloadEndpoint') continue;
    for (const net of r.kind.value.spec?.ipNetworks ?? []) {
      const ip = parseIP(net.replace(/\/\d+$/, ''));
      if (ip) used.add(ip.text);
    }
  }
  return used;
}

/** At most `n` items of a list, then how many more. */
function some(items: readonly string[], n = 10): string {
  return items.length <= n ? items.join(', ') : `${items.slice(0, n).join(', ')} and ${items.length - n} more`;
}

/**
 * `ipam release --from-report`: releases the leaked allocations an `ipam check` report named,
 * all or none. Refused unless the datastore is locked (or `force`); refused as stale when any
 * named address is no longer the allocation the report saw (gone, another handle, allocated
 * again since) or a WorkloadEndpoint uses it now. While the lock holds nothing allocates, so
 * what was verified is what is released; each release also names the handle.
 */
export async function releaseLeaked(req: ReleaseLeakedRequest, deps: ReleaseLeakedDeps): Promise<ReleaseLeakedResponse> {
  if (!req.force && !deps.locked()) {
    throw new ServiceError(
      'failed-precondition',
      'the datastore is not locked: run tabbyctl datastore migrate lock first (so that nothing allocates while leaked addresses are released), or release with --force',
    );
  }
  const seen = new Set<string>();
  const leaks = req.leaks.map((l, i) => {
    const ip = parseIP(l.address);
    if (!ip) throw new ServiceError('invalid-argument', `leak ${i}: ${JSON.stringify(l.address)} is not an IP address`);
    if (!l.handle) throw new ServiceError('invalid-argument', `leak ${i} (${ip.text}): the handle is missing`);
    if (seen.has(ip.text)) throw new ServiceError('invalid-argument', `leak ${i}: ${ip.text} is named twice`);
    seen.add(ip.text);
    return { address: ip.text, handle: l.handle, allocatedAtMs: Number(l.allocatedAtMs) };
  });
  const used = await addressesInUse(deps.store);
  const changed: string[] = [];
  for (const l of leaks) {
    const a = deps.storage.getAllocation(l.address);
    if (!a) changed.push(`${l.address} (released since)`);
    else if (a.handle !== l.handle) changed.push(`${l.address} (now held by handle ${a.handle})`);
    else if (a.createdAt !== l.allocatedAtMs) changed.push(`${l.address} (allocated again since)`);
    else if (used.has(l.address)) changed.push(`${l.address} (a WorkloadEndpoint uses it now)`);
  }
  if (changed.length > 0) {
    throw new ServiceError(
      'failed-precondition',
      `the report is older than the data: ${changed.length} of its ${leaks.length} leaked addresses changed since the check: ${some(changed)}; nothing was released: run tabbyctl ipam check -o again`,
    );
  }
  const byHandle = new Map<string, string[]>();
  for (const l of leaks) byHandle.set(l.handle, [...(byHandle.get(l.handle) ?? []), l.address]);
  const released = new Set<string>();
  for (const [handle, addresses] of byHandle) {
    for (const r of (await deps.storage.releaseIPs(addresses, handle)).released) released.add(parseIP(r.replace(/\/\d+$/, ''))?.text ?? r);
  }
  return { released: leaks.map((l) => l.address).filter((a) => released.has(a)) };
}
