import { BlockEvent } from '@tabby/proto';
import type { EventBus } from '@tabby/runtime';
import type { BlockChange } from './engine.js';
import type { ClusterView } from './pools.js';
import { toProtoBlock } from './service.js';

/** NATS subject of block affinity changes. */
export const BLOCKS_SUBJECT = 'tabby.v1.ipam.blocks';

/**
 * Publishes committed block changes as protobuf BlockEvents. Revisions are dense across
 * every ipam process sharing the database; a follower that sees a gap re-lists (ListBlocks).
 */
export function publishBlockChanges(bus: EventBus, view: ClusterView, changes: readonly BlockChange[]): void {
  for (const c of changes) {
    bus.publish(BLOCKS_SUBJECT, BlockEvent.encode({ type: c.type, revision: c.revision, block: toProtoBlock(c.block, view) }).finish());
  }
}
