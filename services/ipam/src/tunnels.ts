import { metaOf, wrap } from '@tabby/api';
import type { Node, Resource, ResourceStoreClient } from '@tabby/proto';
import { callUnary, type Logger } from '@tabby/runtime';
import type { ClusterView, PoolInfo } from './pools.js';
import type { IpamStorage } from './storage.js';

/** A kind of tunnel address Calico allocates per node, and where it is written on the Node. */
export interface TunnelKind {
  readonly name: 'ipip' | 'vxlan';
  /** The allocation's `type` attribute. */
  readonly type: 'ipipTunnelAddress' | 'vxlanTunnelAddress';
  readonly handle: (node: string) => string;
  /** The pool's mode for this kind (Never, Always, CrossSubnet). */
  readonly mode: (p: PoolInfo) => string;
  readonly read: (n: Node) => string;
  readonly write: (n: Node, address: string) => Node;
}

const emptyBgp = { asNumber: undefined, ipv4Address: '', ipv6Address: '', ipv4IPIPTunnelAddr: '', routeReflectorClusterID: '' };

function specOf(n: Node): NonNullable<Node['spec']> {
  return n.spec ?? { bgp: undefined, ipv4VXLANTunnelAddr: '', vxlanTunnelMACAddr: '', ipv6VXLANTunnelAddr: '', vxlanTunnelMACAddrV6: '', orchRefs: [], wireguard: undefined, addresses: [], interfaces: [] };
}

/** Calico's IPIP and VXLAN (IPv4) tunnel addresses: handle `<kind>-tunnel-addr-<node>`, Node spec.bgp.ipv4IPIPTunnelAddr / spec.ipv4VXLANTunnelAddr. */
export const TUNNEL_KINDS: readonly TunnelKind[] = [
  {
    name: 'ipip',
    type: 'ipipTunnelAddress',
    handle: (node) => `ipip-tunnel-addr-${node}`,
    mode: (p) => p.ipipMode ?? 'Never',
    read: (n) => n.spec?.bgp?.ipv4IPIPTunnelAddr ?? '',
    write: (n, address) => {
      const spec = specOf(n);
      // Without BGP and without an address, the Node keeps no (empty) bgp section.
      if (!spec.bgp && address === '') return n;
      return { ...n, spec: { ...spec, bgp: { ...(spec.bgp ?? emptyBgp), ipv4IPIPTunnelAddr: address } } };
    },
  },
  {
    name: 'vxlan',
    type: 'vxlanTunnelAddress',
    handle: (node) => `vxlan-tunnel-addr-${node}`,
    mode: (p) => p.vxlanMode ?? 'Never',
    read: (n) => n.spec?.ipv4VXLANTunnelAddr ?? '',
    write: (n, address) => ({ ...n, spec: { ...specOf(n), ipv4VXLANTunnelAddr: address } }),
  },
];

/**
 * The pools a node's tunnel address of `kind` comes from (calico-node's allocateip): enabled
 * IPv4 pools with that encapsulation on (Always or CrossSubnet), selecting the node, allowing
 * the Tunnel use.
 */
export function tunnelPools(view: ClusterView, node: string, kind: TunnelKind): PoolInfo[] {
  const labels = view.nodeLabels(node);
  if (labels === undefined) return [];
  return view
    .pools()
    .filter((p) => p.cidr.family === 4 && !p.disabled && kind.mode(p) !== 'Never' && p.nodeSelector.matches(labels) && p.allowedUses.includes('Tunnel'));
}

export interface TunnelAddressesOptions {
  readonly view: ClusterView;
  readonly storage: IpamStorage;
  readonly store: ResourceStoreClient;
  /** The Nodes as followed from the store. */
  readonly nodes: () => readonly Resource[];
  readonly logger: Logger;
}

const STORE_TIMEOUT_MS = 5_000;

/**
 * Keeps one IPIP and one VXLAN tunnel address per node, as calico-node does at start: a node
 * selected by an IPIP (VXLAN) pool that allows Tunnel use holds one address from such a pool
 * under handle `ipip-tunnel-addr-<node>` (`vxlan-…`), attribute `type` = `ipipTunnelAddress`
 * (`vxlanTunnelAddress`), written to its Node; an address whose pool no longer qualifies is
 * released (and another assigned if some pool still does); a deleted Node's are released.
 * Runs on every change of Nodes or IPPools and periodically; runs coalesce, one at a time.
 * Several ipam replicas may run it at once: assignment by handle is idempotent, and a Node
 * write carries the read resourceVersion (a conflict is retried on the next run).
 */
export class TunnelAddresses {
  private running: Promise<void> | undefined;
  private again = false;

  constructor(private readonly opts: TunnelAddressesOptions) {}

  private closed = false;

  /** Waits for the current run; none starts after. */
  async close(): Promise<void> {
    this.closed = true;
    await this.running?.catch(() => undefined);
  }

  /** Schedules a run (after the current one, if any); resolves when a run that started after the call ends. */
  reconcile(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.runOnce();
        } while (this.again && !this.closed);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async runOnce(): Promise<void> {
    const { storage, logger } = this.opts;
    const nodes = new Map(this.opts.nodes().filter((r) => r.kind?.$case === 'node').map((r) => [metaOf(r).name, r.kind?.$case === 'node' ? r.kind.value : undefined]));
    for (const kind of TUNNEL_KINDS) {
      // A deleted Node's tunnel address goes.
      const prefix = kind.handle('');
      for (const a of storage.allocationsMatching('', prefix)) {
        const node = a.handle.slice(prefix.length);
        if (nodes.has(node)) continue;
        await storage
          .releaseByHandle(a.handle)
          .then((released) => logger.info({ node, handle: a.handle, released, kind: kind.name }, 'node gone: tunnel address released'))
          .catch((err: unknown) => logger.warn({ err: errText(err), handle: a.handle }, 'cannot release the tunnel address of a deleted node; will retry'));
      }
      for (const [name, node] of nodes) {
        if (!node) continue;
        try {
          await this.ensure(name, node, kind);
        } catch (err) {
          logger.warn({ err: errText(err), node: name, kind: kind.name }, 'cannot set the tunnel address of a node; will retry');
        }
      }
    }
  }

  private async ensure(name: string, node: Node, kind: TunnelKind): Promise<void> {
    const { view, storage, logger } = this.opts;
    const handle = kind.handle(name);
    const pools = tunnelPools(view, name, kind);
    const held = storage.allocationsOfHandle(handle);
    const keep = held.find((a) => pools.some((p) => p.cidr.canonical === a.blockPoolCidr));
    let address = keep?.address ?? '';
    const stale = held.filter((a) => a !== keep);
    if (stale.length > 0) {
      const r = await storage.releaseIPs(stale.map((a) => a.address), handle);
      logger.info({ node: name, kind: kind.name, released: r.released }, 'tunnel address no longer in a pool for it: released');
    }
    if (!keep && pools.length > 0) {
      const r = await storage.autoAssign({
        node: name,
        handle,
        numIpv4: 1,
        numIpv6: 0,
        ipv4Pools: pools.map((p) => p.name),
        use: 'Tunnel',
        attributes: { type: kind.type },
      });
      address = (r.ipv4[0] ?? '').replace(/\/32$/, '');
      logger.info({ node: name, kind: kind.name, address }, 'tunnel address assigned');
    }
    if (kind.read(node) === address) return;
    const updated = kind.write(node, address);
    if (updated === node) return;
    await callUnary(this.opts.store.update.bind(this.opts.store), { resource: wrap('Node', updated) }, { timeoutMs: STORE_TIMEOUT_MS });
    logger.info({ node: name, kind: kind.name, address: address || undefined }, 'Node tunnel address written');
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
