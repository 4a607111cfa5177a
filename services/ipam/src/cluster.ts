import { metaOf } from '@tabby/api';
import type { StoreFollower } from '@tabby/client';
import { nodeOf, poolInfo, type ClusterView, type PoolInfo } from './pools.js';

/** The pools and nodes IPAM allocates for, as a {@link StoreFollower} sees them in the store. */
export class FollowedCluster implements ClusterView {
  private poolCache: PoolInfo[] | undefined;
  private labelCache: Map<string, Record<string, string>> | undefined;

  constructor(private readonly follower: StoreFollower) {
    follower.onChange((_events, info) => {
      if (info.kind === 'IPPool') this.poolCache = undefined;
      if (info.kind === 'Node') this.labelCache = undefined;
    });
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
