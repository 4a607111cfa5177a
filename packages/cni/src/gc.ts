/**
 * CNI GC (spec 1.1.0, section 2, `GC`): the runtime lists the attachments of this network it
 * still knows (`cni.dev/valid-attachments`); tabby-cni releases what the network holds on this
 * node for any other container: the IPAM handle `<network>.<containerID>`, the container's
 * WorkloadEndpoint, and the host side of its veth pair if its namespace outlived it.
 *
 * Garbage collection is per network and must never touch what another network, node or tool
 * holds, so an allocation counts as this network's attachment only when all of this is true:
 * it was made for this node, its attributes carry the `containerID` WorkloadAdd records, and
 * its handle is exactly `<network>.<containerID>` (a prefix alone is not enough: network names
 * and container IDs may both contain dots). A handle whose add or delete is under way is left
 * for the next GC.
 */
import type { IpamAllocation } from '@tabby/proto';
import type { Logger } from '@tabby/runtime';
import { CniCode, CniError, isCniError, type CniCodeValue } from './cni-error.js';
import { LEGACY_ATTACHMENTS_KEY, VALID_ATTACHMENTS_KEY, type Attachment, type NetworkConfig } from './config.js';
import type { TabbyApi } from './tabby-api.js';
import type { Wiring } from './wiring.js';

/** One attachment of the network on this node that the runtime no longer lists. */
export interface StaleAttachment {
  readonly handle: string;
  readonly containerId: string;
  /** The workload WorkloadAdd recorded (namespace, pod or container); undefined when it did not. */
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  /** CNI_IFNAME of its ADD, when recorded: only that endpoint of the container is deleted. */
  readonly endpoint: string | undefined;
  /** Its addresses as single-address CIDRs. */
  readonly addresses: readonly string[];
}

/** What GC will do, decided from IPAM's listing alone. */
export interface GcPlan {
  readonly stale: readonly StaleAttachment[];
  /** Handles of attachments the runtime still lists. */
  readonly kept: readonly string[];
  /** Handles under the network's prefix left alone, and why. */
  readonly ignored: readonly { readonly handle: string; readonly reason: string }[];
}

const hostCidr = (address: string): string => (address.includes('/') ? address : `${address}/${address.includes(':') ? 128 : 32}`);

/**
 * Sorts the allocations tabby-ipam listed for `<network>.` on `node` into stale attachments
 * (grouped by handle), kept ones and ones that are not this network's to collect. Pure.
 */
export function planGc(network: string, node: string, allocations: readonly IpamAllocation[], valid: readonly Attachment[]): GcPlan {
  const validIds = new Set(valid.map((a) => a.containerId));
  const stale = new Map<string, StaleAttachment & { addresses: string[] }>();
  const kept = new Set<string>();
  const ignored = new Map<string, string>();
  for (const a of allocations) {
    const containerId = a.attributes.containerID ?? '';
    let reason: string | undefined;
    if (a.node !== node) reason = `allocated to node ${a.node}, not ${node}`;
    else if (containerId === '') reason = 'no containerID recorded: not made by a CNI ADD';
    else if (a.handle !== `${network}.${containerId}`) reason = `not network ${network}'s handle for container ${containerId}`;
    else if (a.pending) reason = 'a workload add or delete of this handle is under way';
    if (reason !== undefined) {
      ignored.set(a.handle, reason);
      continue;
    }
    if (validIds.has(containerId)) {
      kept.add(a.handle);
      continue;
    }
    const s = stale.get(a.handle) ?? {
      handle: a.handle,
      containerId,
      namespace: a.attributes.namespace || undefined,
      name: a.attributes.pod || undefined,
      endpoint: a.attributes.endpoint || undefined,
      addresses: [],
    };
    s.addresses.push(hostCidr(a.address));
    stale.set(a.handle, s);
  }
  return { stale: [...stale.values()], kept: [...kept], ignored: [...ignored].map(([handle, reason]) => ({ handle, reason })) };
}

function asCniError(err: unknown, code: CniCodeValue): CniError {
  return isCniError(err) ? err : new CniError(code, err instanceof Error ? err.message : String(err));
}

/**
 * Runs GC for `config` (which must carry the valid attachments) on `node`. Goes on after a
 * failure and reports them all at the end (the spec asks plugins to remove as much as they
 * can); the call's code is 11 when any step found IPAM or the store unreachable (the runtime
 * retries), else the first failure's.
 * Running it again finds nothing more to do.
 */
export async function collectGarbage(config: NetworkConfig, node: string, api: TabbyApi, wiring: Wiring, logger: Logger): Promise<void> {
  const valid = config.validAttachments;
  if (valid === undefined) {
    throw new CniError(
      CniCode.InvalidNetworkConfig,
      `GC needs ${VALID_ATTACHMENTS_KEY} (or ${LEGACY_ATTACHMENTS_KEY}) in the network config: the attachments to keep`,
      'without that list every container of the network on this node would count as gone; nothing was released',
    );
  }
  const listed = await api.listAllocations(node, `${config.name}.`);
  const plan = planGc(config.name, node, listed, valid);
  logger.info({ valid: valid.length, kept: plan.kept.length, stale: plan.stale.map((s) => s.handle), ignored: plan.ignored.length > 0 ? plan.ignored : undefined }, 'GC: allocations of this network on this node sorted');
  if (plan.stale.length === 0) return;

  const failures: CniError[] = [];
  // The host side first, while the routes still say which interface carried which address.
  try {
    const sweep = await wiring.removeStaleHostInterfaces(
      plan.stale.flatMap((s) => s.addresses),
      config.tabby.routeTable,
      config.tabby.routeProtocol,
    );
    if (sweep.remove.length > 0) logger.info({ removed: sweep.remove }, 'GC: host interfaces of gone attachments removed');
    if (sweep.kept.length > 0) logger.warn({ kept: sweep.kept }, 'GC: host interfaces left alone');
  } catch (err) {
    failures.push(asCniError(err, CniCode.DataplaneFailure));
  }
  for (const s of plan.stale) {
    try {
      if (s.namespace !== undefined && s.name !== undefined) {
        // As DEL does: the endpoint goes only if it is still this container's (and this interface's).
        const r = await api.workloadDelete({ namespace: s.namespace, name: s.name, handle: s.handle, containerId: s.containerId, ...(s.endpoint !== undefined ? { endpoint: s.endpoint } : {}) });
        logger.info({ handle: s.handle, released: r.released, endpointFound: r.found, workload: `${s.namespace}/${s.name}` }, 'GC: stale attachment released');
      } else {
        const released = await api.releaseByHandle(s.handle);
        logger.info({ handle: s.handle, released }, 'GC: stale attachment released (no workload recorded, so no endpoint to delete)');
      }
    } catch (err) {
      failures.push(asCniError(err, CniCode.Internal));
    }
  }
  if (failures.length > 0) {
    // Unreachable IPAM (11) first: the runtime retries, and the next GC picks up the rest.
    const first = failures.find((f) => f.cniCode === CniCode.TryAgainLater) ?? failures[0];
    const more = failures.length > 1 ? ` (and ${failures.length - 1} more failure${failures.length > 2 ? 's' : ''}, in details)` : '';
    throw new CniError(first.cniCode, `GC did not finish: ${first.message}${more}`, failures.map((f) => f.message).join('\n'));
  }
}
