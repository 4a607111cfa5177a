/**
 * The block log behind WatchBlocks, fed as the ipam process feeds it: this replica's own
 * commits are applied as they come (no read of every block), and a gap in the revisions
 * (another replica committed in between) makes it read the datastore again, so a watcher
 * misses nothing.
 */
import { createLogger } from '@tabby/runtime';
import type { Block, WatchBlocksResponse } from '@tabby/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { BlockLog, type BlockSnapshot } from '../src/block-watch.js';

const logger = createLogger({ service: 'ipam-test', level: 'silent' });

const block = (cidr: string, node: string): Block => ({ cidr, node, pool: 'p', size: 64, inUse: 1, borrowed: 0 });

/** A datastore's blocks and revision, counting how often the log reads them all. */
class Datastore {
  blocks = new Map<string, Block>();
  revision = 0;
  snapshots = 0;
  snapshot = (): BlockSnapshot => {
    this.snapshots++;
    return { revision: this.revision, blocks: [...this.blocks.values()] };
  };
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

function watch(log: BlockLog): WatchBlocksResponse[] {
  const got: WatchBlocksResponse[] = [];
  const abort = new AbortController();
  void log.serve({ fromRevision: undefined, bookmarkIntervalSeconds: 0 }, { write: (m) => (got.push(m), true) }, abort.signal);
  stops.push(() => abort.abort());
  return got;
}

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('BlockLog', () => {
  it("applies this replica's commits without reading every block, and reads them all again after another replica's commit", async () => {
    const ds = new Datastore();
    ds.blocks.set('10.0.0.0/26', block('10.0.0.0/26', 'a'));
    ds.revision = 1;
    const log = new BlockLog({ snapshot: ds.snapshot, revision: () => ds.revision, logger, pollMs: 60_000 });
    log.start();
    stops.push(() => log.stop());
    const got = watch(log);
    await tick();
    expect(got.map((m) => m.updates.map((u) => u.block?.cidr))).toEqual([['10.0.0.0/26']]);
    const reads = ds.snapshots;

    // Our own commit: a claim (revision 2) and a release (revision 3), in one batch.
    ds.blocks.set('10.0.0.64/26', block('10.0.0.64/26', 'b'));
    ds.blocks.delete('10.0.0.0/26');
    ds.revision = 3;
    log.applyCommitted([
      { block: block('10.0.0.64/26', 'b'), deleted: false, revision: 2 },
      { block: block('10.0.0.0/26', 'a'), deleted: true, revision: 3 },
    ]);
    await tick();
    expect(ds.snapshots).toBe(reads);
    expect(log.revision).toBe(3);
    expect(got[1]).toMatchObject({
      revision: 3,
      updates: [
        { block: { cidr: '10.0.0.64/26', node: 'b' }, deleted: false, revision: 2 },
        { block: { cidr: '10.0.0.0/26' }, deleted: true, revision: 3 },
      ],
    });

    // Told again (after its sync): no news, nothing read, nothing sent.
    log.applyCommitted([{ block: block('10.0.0.64/26', 'b'), deleted: false, revision: 2 }]);
    await tick();
    expect([ds.snapshots, got.length]).toEqual([reads, 2]);

    // Another replica claimed a block (revision 4), then we committed revision 5: a gap, so the
    // log reads the datastore and the watcher gets both.
    ds.blocks.set('10.0.1.0/26', block('10.0.1.0/26', 'c'));
    ds.blocks.set('10.0.1.64/26', block('10.0.1.64/26', 'd'));
    ds.revision = 5;
    log.applyCommitted([{ block: block('10.0.1.64/26', 'd'), deleted: false, revision: 5 }]);
    await tick();
    expect(ds.snapshots).toBe(reads + 1);
    expect(got[2].revision).toBe(5);
    expect(got[2].updates.map((u) => `${u.block?.cidr}@${u.block?.node}`).sort()).toEqual(['10.0.1.0/26@c', '10.0.1.64/26@d']);
  });
});
