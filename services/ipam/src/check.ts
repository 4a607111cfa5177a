import { cidrContains, parseCIDR, parseIP } from '@tabby/api';
import type { CheckProblem, CheckResponse, ResourceStoreClient } from '@tabby/proto';
import { ServiceError, callUnary, isGrpcError } from '@tabby/runtime';
import type { ClusterView } from './pools.js';
import type { IpamStorage } from './storage.js';
import { workloadHandle, type Workloads } from './workloads.js';

function problem(p: Partial<CheckProblem> & { kind: string; detail: string }): CheckProblem {
  return { address: '', handle: '', block: '', node: '', workload: '', repaired: false, attributes: {}, allocatedAtMs: 0, usedBy: '', ...p };
}

/**
 * `ipam check`: cross-checks IPAM's allocations and blocks against the store's
 * WorkloadEndpoints, Nodes and IPPools. With `repair`, releases leaked addresses, gives
 * addresses back to endpoints that lost them, releases the blocks of missing nodes and
 * finishes interrupted workload changes. Allocations younger than `leakGraceMs` are never
 * called leaked: their endpoint may be on its way.
 */
export async function runCheck(
  repair: boolean,
  deps: { storage: IpamStorage; view: ClusterView; store: ResourceStoreClient; workloads: Workloads; leakGraceMs: number; now?: () => number },
): Promise<CheckResponse> {
  const { storage, view, store, workloads } = deps;
  const now = (deps.now ?? Date.now)();
  const problems: CheckProblem[] = [];

  // Interrupted workload changes first: recovering them settles their addresses.
  for (const intent of workloads.orphanedIntents()) {
    problems.push(
      problem({
        kind: 'pending-workload',
        handle: intent.handle,
        node: intent.node,
        workload: `${intent.namespace}/${intent.name}`,
        detail: `workload ${intent.op} interrupted (process ${intent.owner} is gone)`,
      }),
    );
  }
  if (repair && problems.length > 0) {
    await workloads.recover();
    for (const p of problems) p.repaired = workloads.orphanedIntents().every((i) => i.handle !== p.handle);
  }

  let weps;
  try {
    weps = await callUnary(store.list.bind(store), { kind: 'WorkloadEndpoint', namespace: '', labelSelector: '' }, { timeoutMs: 30_000 });
  } catch (err) {
    throw new ServiceError('unavailable', `cannot list WorkloadEndpoints from the store: ${isGrpcError(err) ? err.details : String(err)}`);
  }
  /** address → namespace/pod of the endpoint using it */
  const inUse = new Map<string, string>();
  const nodeOfUser = new Map<string, string>();
  for (const r of weps.items) {
    if (r.kind?.$case !== 'workloadEndpoint') continue;
    const ns = r.kind.value.metadata?.namespace ?? '';
    const pod = r.kind.value.spec?.pod || r.kind.value.spec?.workload || r.kind.value.metadata?.name || '';
    for (const net of r.kind.value.spec?.ipNetworks ?? []) {
      const ip = parseIP(net.replace(/\/\d+$/, ''));
      if (!ip) continue;
      inUse.set(ip.text, `${ns}/${pod}`);
      nodeOfUser.set(ip.text, r.kind.value.spec?.node ?? '');
    }
  }

  const allocations = storage.allocations();
  const pending = new Set(workloads.orphanedIntents().map((i) => i.handle));
  const pools = view.pools();
  // An address's pool: most addresses share a block, so look pools up once per block.
  const blockInPool = new Map<string, boolean>();
  const leaked: string[] = [];
  for (const a of allocations) {
    const owner = a.attributes.namespace && a.attributes.pod ? `${a.attributes.namespace}/${a.attributes.pod}` : undefined;
    const user = inUse.get(a.address);
    if (owner && user !== owner && !pending.has(a.handle) && now - a.createdAt >= deps.leakGraceMs) {
      problems.push(
        problem({
          kind: 'leaked-address',
          address: a.address,
          handle: a.handle,
          node: a.node,
          block: a.block,
          workload: owner,
          attributes: a.attributes,
          allocatedAtMs: a.createdAt,
          usedBy: user ?? '',
          detail: user ? `allocated to ${owner} but used by ${user}` : `allocated to ${owner}, which has no WorkloadEndpoint with this address`,
        }),
      );
      if (!user) leaked.push(a.address);
    }
    let inPool = blockInPool.get(a.block);
    if (inPool === undefined) {
      const ip = parseIP(a.address);
      inPool = !ip || pools.some((p) => cidrContains(p.cidr, ip));
      blockInPool.set(a.block, inPool);
    }
    if (!inPool) {
      problems.push(
        problem({
          kind: 'outside-pool',
          address: a.address,
          handle: a.handle,
          block: a.block,
          node: a.node,
          attributes: a.attributes,
          allocatedAtMs: a.createdAt,
          detail: `${a.address} is in no IPPool (its pool was deleted while in use)`,
        }),
      );
    }
  }
  const allocated = new Map(allocations.map((a) => [a.address, a]));
  const missing: { address: string; workload: string }[] = [];
  for (const [address, workload] of inUse) {
    if (allocated.has(address)) continue;
    problems.push(problem({ kind: 'missing-allocation', address, workload, detail: `${workload} uses ${address}, which IPAM has not allocated` }));
    missing.push({ address, workload });
  }
  const nodes = new Set(view.nodeNames());
  const blocks = storage.blocks();
  const missingNodes = new Set<string>();
  for (const b of blocks) {
    if (b.node !== null && !nodes.has(b.node)) {
      problems.push(problem({ kind: 'block-missing-node', block: b.cidr, node: b.node, detail: `block ${b.cidr} is affine to node ${b.node}, which does not exist` }));
      missingNodes.add(b.node);
    }
  }

  if (repair) {
    const released = new Set<string>();
    const reassigned = new Set<string>();
    const freedNodes = new Set<string>();
    for (const addr of (await storage.releaseIPs(leaked)).released) released.add(addr);
    for (const m of missing) {
      const [ns, pod] = m.workload.split('/') as [string, string];
      const ip = parseIP(m.address);
      const pool = ip ? pools.find((p) => cidrContains(p.cidr, ip)) : undefined;
      if (!pool || !parseCIDR(`${m.address}/${pool.blockSize}`)) continue;
      try {
        await storage.assignIP(m.address, workloadHandle(ns, pod), nodeOfUser.get(m.address) ?? '', { namespace: ns, pod });
        reassigned.add(m.address);
      } catch {
        // e.g. the pool is disabled: leave it reported
      }
    }
    for (const n of missingNodes) {
      await storage.releaseNodeAffinities(n);
      freedNodes.add(n);
    }
    for (const p of problems) {
      if (p.kind === 'leaked-address' && released.has(p.address)) p.repaired = true;
      if (p.kind === 'missing-allocation' && reassigned.has(p.address)) p.repaired = true;
      if (p.kind === 'block-missing-node' && freedNodes.has(p.node)) p.repaired = true;
    }
  }
  return { allocationsChecked: allocations.length, workloadsChecked: weps.items.length, blocksChecked: blocks.length, problems };
}
