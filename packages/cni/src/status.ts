/**
 * CNI STATUS (spec 1.1.0, section 2, `STATUS`): whether tabby-cni can serve ADD now. It can when
 * tabby-ipam and tabby-store answer and the node has its Node resource (ADD fails with 103
 * without one; tabby-agent registers it when it starts). Otherwise code 50, the plugin is not
 * available, naming what did not answer and where; or 51 (not available, and existing
 * containers may have limited connectivity) when the Node is missing while this network still
 * holds addresses on the node: without a Node no BGP session carries their routes.
 */
import { CniCode, CniError, isCniError } from './cni-error.js';
import type { NetworkConfig } from './config.js';
import type { TabbyApi } from './tabby-api.js';

/** Resolves when tabby-cni can serve ADD for `config` on `node`; throws a {@link CniError} 50 or 51 when not. */
export async function pluginStatus(config: NetworkConfig, node: string, api: TabbyApi): Promise<void> {
  const [allocations, nodeFound] = await Promise.allSettled([api.listAllocations(node, `${config.name}.`), api.nodeExists(node)]);
  const failures = [allocations, nodeFound].flatMap((r) => (r.status === 'rejected' ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : []));
  if (allocations.status === 'rejected' || nodeFound.status === 'rejected') {
    const retry = [allocations, nodeFound].some((r) => r.status === 'rejected' && isCniError(r.reason) && r.reason.cniCode === CniCode.TryAgainLater);
    throw new CniError(
      CniCode.NotAvailable,
      `tabby-cni is not available: ${failures.join('; ')}`,
      retry ? 'ADD would fail with code 11 (try again later); check that tabby-ipam and tabby-store are running and reachable from this node (tabby.ipam, tabby.store)' : 'ADD would fail the same way; check tabby.ipam, tabby.store and tabby.tls in the network config',
    );
  }
  if (nodeFound.value) return;
  const network = config.name;
  const containers = new Set(allocations.value.filter((a) => a.node === node && a.attributes.containerID && a.handle === `${network}.${a.attributes.containerID}`).map((a) => a.handle));
  const missing = `node ${node} has no Node resource in tabby-store at ${config.tabby.store}: ADD would fail (code 103)`;
  const fix = 'tabby-agent registers the Node when it starts on this node; or create it, or set nodename in the network config to its name';
  if (containers.size === 0) throw new CniError(CniCode.NotAvailable, `tabby-cni is not available: ${missing}`, fix);
  throw new CniError(
    CniCode.NotAvailableLimitedConnectivity,
    `tabby-cni is not available: ${missing}, and the ${containers.size} container${containers.size === 1 ? '' : 's'} of network ${network} on it may have limited connectivity (no Node, no BGP routes to them from other nodes)`,
    fix,
  );
}
