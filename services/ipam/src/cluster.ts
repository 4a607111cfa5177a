import { metaOf } from '@tabby/api';
import type { StoreFollower } from '@tabby/client';
import { Reservations, reservedCidrsOf, settingsOf, type IpamSettings } from './ipam-settings.js';
import { nodeOf, poolInfo, type ClusterView, type PoolInfo } from './pools.js';

/**
 * The pools, nodes, reservations and IPAM configuration IPAM allocates with, as a
 * {@link StoreFollower} sees them in the store (it follows all four kinds).
 */
export class FollowedCluster implements ClusterView {
  private poolCache: PoolInfo[] | undefined;
  private labelCache: Map<string, Record<string, string>> | undefined;
  private reservationCache: Reservations | undefined;
  private configCache: { value: IpamSettings | undefined } | undefined;

  constructor(private readonly follower: StoreFollower) {
    follower.onChange((_events, info) => {
      if (info.kind === 'IPPool') this.poolCache = undefined;
      if (info.kind === 'Node') this.labelCache = undefined;
      if (info.kind === 'IPReservation') this.reservationCache = undefined;
      if (info.kind === 'IPAMConfiguration') this.configCache = undefined;
    });
  }

  reservations(): Reservations {
    this.reservationCache ??= new Reservations(this.follower.list('IPReservation').flatMap(reservedCidrsOf));
    return this.reservationCache;
  }

  ipamConfig(): IpamSettings | undefined {
    this.configCache ??= { value: this.follower.list('IPAMConfiguration').map(settingsOf).find((s) => s !== undefined) };
    return this.configCache.value;
  }

  pools(): readonly PoolInfo[] {
    this.poolCache ??= this.follower
      .list('IPPool')
      .map(poolInfo)
      .filter((p): p is PoolInfo => p !== undefined)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return this.poolCache;
  }

  private labels(): Map<string, Record<string, string>> {
    this.labelCache ??= new Map(this.follower.list('Node').filter((r) => nodeOf(r) !== undefined).map((r) => [metaOf(r).name, metaOf(r).labels]));
    return this.labelCache;
  }

  nodeLabels(node: string): Readonly<Record<string, string>> | undefined {
    return this.labels().get(node);
  }

  nodeNames(): readonly string[] {
    return [...this.labels().keys()];
  }
}
