/**
 * The IPAM block follower against a scripted IPAM (ListBlocks) and an in-process bus:
 * dense events applied in order, a gap re-lists, events during a list are held, an
 * unreachable IPAM is retried, and a NATS reconnect re-lists (twice).
 */
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { BlockEvent, BlockEventType, type Block, type ListBlocksResponse } from '@tabby/proto';
import { MemoryBus, createLogger } from '@tabby/runtime';
import { eventually } from '@tabby/harness';
import { BLOCKS_SUBJECT, BlockFollower, type BlockChange, type BlockLister } from '../src/block-follower.js';

const logger = createLogger({ service: 'test', level: 'silent' });

function block(cidr: string, node: string): Block {
  return { cidr, node, pool: 'pods', size: 64, inUse: 1, borrowed: 0 };
}

/** A fake IPAM whose ListBlocks answers from `state` (or fails while `down`). */
function fakeIpam(state: { blocks: Block[]; revision: number; down: boolean; lists: number; delayMs?: number }): BlockLister {
  const listBlocks = (_req: unknown, _md: unknown, _opts: unknown, cb: (err: Error | null, res?: ListBlocksResponse) => void): void => {
    state.lists++;
    const reply = (): void => {
      if (state.down) cb(Object.assign(new Error('unavailable'), { code: status.UNAVAILABLE, details: 'connect ECONNREFUSED', metadata: undefined }));
      else cb(null, { blocks: state.blocks.map((b) => ({ ...b })), revision: state.revision });
    };
    if (state.delayMs) setTimeout(reply, state.delayMs);
    else setImmediate(reply);
  };
  return { listBlocks } as unknown as BlockLister;
}

/** An in-process bus whose test can say "NATS reconnected". */
class ReconnectingBus extends MemoryBus {
  private readonly connected = new Set<() => void>();
  override onConnected(listener: () => void): () => void {
    this.connected.add(listener);
    return () => this.connected.delete(listener);
  }
  reconnect(): void {
    for (const l of this.connected) l();
  }
}

function publish(bus: MemoryBus, type: BlockEventType, revision: number, b: Block): void {
  bus.publish(BLOCKS_SUBJECT, BlockEvent.encode({ type, revision, block: b }).finish());
}

describe('BlockFollower', () => {
  it('applies dense events, re-lists after a gap, and holds events that arrive during a list', async () => {
    const state = { blocks: [block('10.244.0.0/26', 'node1')], revision: 1, down: false, lists: 0 };
    const bus = new MemoryBus();
    const f = new BlockFollower({ client: fakeIpam(state), bus, logger, resyncIntervalMs: 60_000 });
    const seen: BlockChange[] = [];
    f.onChange((changes) => seen.push(...changes));
    await f.start();
    expect(f.revision).toBe(1);
    expect(seen.map((c) => `${c.cidr}@${c.block?.node ?? '-'}`)).toEqual(['10.244.0.0/26@node1']);

    publish(bus, BlockEventType.BLOCK_EVENT_TYPE_CLAIMED, 2, block('10.244.0.64/26', 'node2'));
    await eventually('revision 2', () => f.revision === 2);
    publish(bus, BlockEventType.BLOCK_EVENT_TYPE_AFFINITY_RELEASED, 3, block('10.244.0.0/26', 'node1'));
    await eventually('revision 3', () => f.revision === 3);
    expect(f.list().find((b) => b.cidr === '10.244.0.0/26')?.node).toBe('');
    expect(state.lists).toBe(1);

    // Revision 4 is lost; 5 reveals the gap: the follower lists (IPAM is at 5 by then).
    state.blocks = [block('10.244.0.64/26', 'node2'), block('10.244.1.0/26', 'node3')];
    state.revision = 5;
    publish(bus, BlockEventType.BLOCK_EVENT_TYPE_CLAIMED, 5, block('10.244.1.0/26', 'node3'));
    await eventually('the re-list', () => state.lists === 2 && f.revision === 5);
    expect(f.list().map((b) => `${b.cidr}@${b.node}`).sort()).toEqual(['10.244.0.64/26@node2', '10.244.1.0/26@node3']);
    await f.stop();
  });

  it('retries an unreachable IPAM and keeps the last view meanwhile', async () => {
    const state = { blocks: [block('10.244.0.0/26', 'node1')], revision: 7, down: true, lists: 0 };
    const f = new BlockFollower({ client: fakeIpam(state), logger, minRetryMs: 10, maxRetryMs: 20, resyncIntervalMs: 60_000 });
    const started = f.start();
    await eventually('a few attempts', () => state.lists >= 3);
    expect(f.synced).toBe(false);
    state.down = false;
    await started;
    expect([f.synced, f.revision, f.list().length]).toEqual([true, 7, 1]);
    await f.stop();
  });

  it('applies the events held during the first list, after it', async () => {
    const state = { blocks: [block('10.244.0.0/26', 'node1')], revision: 1, down: false, lists: 0, delayMs: 100 };
    const bus = new MemoryBus();
    const f = new BlockFollower({ client: fakeIpam(state), bus, logger, resyncIntervalMs: 60_000 });
    const started = f.start();
    publish(bus, BlockEventType.BLOCK_EVENT_TYPE_CLAIMED, 1, block('10.244.0.0/26', 'node1'));
    publish(bus, BlockEventType.BLOCK_EVENT_TYPE_CLAIMED, 2, block('10.244.9.0/26', 'node9'));
    await started;
    await eventually('the held event', () => f.revision === 2);
    expect(f.list().map((b) => b.cidr).sort()).toEqual(['10.244.0.0/26', '10.244.9.0/26']);
    expect(state.lists).toBe(1);
    await f.stop();
  });

  it('re-lists when NATS reconnects, and once more after the pause: a last event lost in the outage shows no gap', async () => {
    const state = { blocks: [block('10.244.0.0/26', 'node1')], revision: 1, down: false, lists: 0 };
    const bus = new ReconnectingBus();
    const f = new BlockFollower({ client: fakeIpam(state), bus, logger, resyncIntervalMs: 3_600_000, reconnectRelistDelayMs: 500 });
    await f.start();
    // Revision 2 was published while this service had no NATS server: nothing reveals it.
    state.blocks = [...state.blocks, block('10.244.0.64/26', 'node2')];
    state.revision = 2;
    bus.reconnect();
    await eventually('the re-list on reconnect', () => f.revision === 2);
    expect(f.list().map((b) => `${b.cidr}@${b.node}`).sort()).toEqual(['10.244.0.0/26@node1', '10.244.0.64/26@node2']);
    // Revision 3 slipped by while the subscription was spreading through the cluster.
    state.blocks = [...state.blocks, block('10.244.0.128/26', 'node3')];
    state.revision = 3;
    await eventually('the second re-list', () => state.lists === 3 && f.revision === 3);
    await f.stop();
    bus.reconnect();
    expect(state.lists).toBe(3);
  });
});
