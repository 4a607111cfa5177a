import { metaOf, parseCIDR, type ParsedCIDR } from '@tabby/api';
import type { IPPool, Node, Resource } from '@tabby/proto';
import { mustParseSelector, type Selector } from '@tabby/selector';
import { Reservations, type IpamSettings } from './ipam-settings.js';

/** What IPAM needs to know of an IPPool. */
export interface PoolInfo {
  readonly name: string;
  readonly cidr: ParsedCIDR;
  readonly blockSize: number;
  readonly disabled: boolean;
  readonly nodeSelector: Selector;
  readonly allowedUses: readonly string[];
  readonly manual: boolean;
  /** Namespaces whose workloads may auto-assign from the pool; undefined: any namespace. */
  readonly namespaceSelector?: Selector | undefined;
  /** `Never`, `Always` or `CrossSubnet` (Calico's ipipMode/vxlanMode; default Never). */
  readonly ipipMode?: string;
  readonly vxlanMode?: string;
}

/** The pools and nodes IPAM allocates for (from the store, through a follower). */
export interface ClusterView {
  /** Every pool, sorted by name. */
  pools(): readonly PoolInfo[];
  /** A node's labels; undefined when the node does not exist. */
  nodeLabels(node: string): Readonly<Record<string, string>> | undefined;
  /** Names of every node. */
  nodeNames(): readonly string[];
  /** The addresses of every IPReservation (auto-assignment skips them). */
  reservations(): Reservations;
  /** The IPAMConfiguration `default`, or undefined while there is none (the flags apply then). */
  ipamConfig(): IpamSettings | undefined;
}

export function poolInfo(resource: Resource): PoolInfo | undefined {
  if (resource.kind?.$case !== 'ipPool') return undefined;
  const pool: IPPool = resource.kind.value;
  const cidr = parseCIDR(pool.spec?.cidr ?? '');
  if (!cidr) return undefined;
  // The store validates selectors; an unparsable one selects nothing rather than everything.
  const parse = (text: string): Selector => {
    try {
      return mustParseSelector(text);
    } catch {
      return mustParseSelector('has(__tabby_invalid_selector__)');
    }
  };
  const selector = parse(pool.spec?.nodeSelector || 'all()');
  const namespaceSelector = pool.spec?.namespaceSelector ? parse(pool.spec.namespaceSelector) : undefined;
  return {
    name: metaOf(resource).name,
    cidr,
    blockSize: pool.spec?.blockSize || (cidr.family === 4 ? 26 : 122),
    disabled: pool.spec?.disabled === true,
    nodeSelector: selector,
    allowedUses: pool.spec?.allowedUses.length ? pool.spec.allowedUses : ['Workload', 'Tunnel'],
    manual: pool.spec?.assignmentMode === 'Manual',
    namespaceSelector,
    ipipMode: pool.spec?.ipipMode || 'Never',
    vxlanMode: pool.spec?.vxlanMode || 'Never',
  };
}

export function nodeOf(resource: Resource): Node | undefined {
  return resource.kind?.$case === 'node' ? resource.kind.value : undefined;
}

/** A fixed view, for tests and tools. */
export class StaticClusterView implements ClusterView {
  private readonly sorted: PoolInfo[];
  /** Reservations and IPAM configuration: tests may change them between calls. */
  reserved: Reservations = Reservations.NONE;
  config: IpamSettings | undefined;
  constructor(
    pools: readonly PoolInfo[],
    private readonly nodes: ReadonlyMap<string, Record<string, string>>,
  ) {
    this.sorted = [...pools].sort((a, b) => (a.name < b.name ? -1 : 1));
  }
  reservations(): Reservations {
    return this.reserved;
  }
  ipamConfig(): IpamSettings | undefined {
    return this.config;
  }
  pools(): readonly PoolInfo[] {
    return this.sorted;
  }
  nodeLabels(node: string): Readonly<Record<string, string>> | undefined {
    return this.nodes.get(node);
  }
  nodeNames(): readonly string[] {
    return [...this.nodes.keys()];
  }
}
