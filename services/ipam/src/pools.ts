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
  let selector: Selector;
  try {
    selector = mustParseSelector(pool.spec?.nodeSelector || 'all()');
  } catch {
    // The store validates selectors; an unparsable one selects nothing rather than everything.
    selector = mustParseSelector('has(__tabby_invalid_selector__)');
  }
  return {
    name: metaOf(resource).name,
    cidr,
    blockSize: pool.spec?.blockSize || (cidr.family === 4 ? 26 : 122),
    disabled: pool.spec?.disabled === true,
    nodeSelector: selector,
    allowedUses: pool.spec?.allowedUses.length ? pool.spec.allowedUses : ['Workload', 'Tunnel'],
    manual: pool.spec?.assignmentMode === 'Manual',
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
