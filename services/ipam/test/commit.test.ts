/**
 * Group commit over a real SQLite file: many concurrent calls share one transaction and one
 * fsync, each is answered only once its commit is on disk, in order; a batch that cannot be
 * committed fails every call in it, with a clear status, and writes nothing.
 */
import { formatIP, parseCIDR, type ParsedCIDR } from '@tabby/api';
import { tempDir } from '@tabby/harness';
import { ServiceError, createLogger } from '@tabby/runtime';
import { mustParseSelector } from '@tabby/selector';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCommitter, IpamEngine, StaticClusterView, WalSync, openDatabase, type BlockChange, type PoolInfo, type Syncer } from '../src/index.js';

const logger = createLogger({ service: 'ipam-test', level: 'silent' });
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const pools: PoolInfo[] = [
  { name: 'p', cidr: parseCIDR('10.0.0.0/16') as ParsedCIDR, blockSize: 26, disabled: false, nodeSelector: mustParseSelector('all()'), allowedUses: ['Workload'], manual: false },
];

function setup(opts: { sync?: Syncer; busyTimeoutMs?: number } = {}) {
  const dir = tempDir('tabby-ipam-commit-');
  const db = openDatabase(dir.path, logger, opts.busyTimeoutMs);
  cleanups.push(() => {
    db.close();
    dir.remove();
  });
  const engine = new IpamEngine({ db, view: new StaticClusterView(pools, new Map([['n1', {}], ['n2', {}]])) });
  const events: BlockChange[] = [];
  const batches: number[] = [];
  const committer = new GroupCommitter<BlockChange>(db, logger, (e) => events.push(...e), 512, (ops) => batches.push(ops), { sync: opts.sync });
  const assign = (node: string, handle: string) => committer.run((tx) => engine.autoAssign(tx, { node, handle, numIpv4: 1, numIpv6: 0 }));
  return { dir, db, engine, committer, events, batches, assign };
}

/** A sync the test finishes by hand: what the calls wait for. */
function heldSync(): { sync: Syncer; release: () => void; started: () => number } {
  let n = 0;
  const waiting: (() => void)[] = [];
  return {
    sync: () => {
      n++;
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    release: () => {
      for (const r of waiting.splice(0)) r();
    },
    started: () => n,
  };
}

const settle = (ms = 20) => new Promise((r) => setTimeout(r, ms));

describe('group commit', () => {
  it('commits concurrent calls in one transaction and answers them only after its sync, in call order', async () => {
    const held = heldSync();
    const { assign, batches, events, engine } = setup({ sync: held.sync });
    const answered: string[] = [];
    const calls = Array.from({ length: 50 }, (_, i) => assign(i % 2 ? 'n2' : 'n1', `h-${i}`).then((r) => answered.push(`h-${i} ${r.ipv4[0]}`)));
    await settle();
    // Committed (other readers see it) but not on disk yet: nobody has an answer, no event went out.
    expect(held.started()).toBe(1);
    expect(engine.allocationsOfHandle('h-0')).toHaveLength(1);
    expect(answered).toEqual([]);
    expect(events).toEqual([]);
    held.release();
    await Promise.all(calls);
    expect(batches).toEqual([50]);
    // In call order, addresses in each node's free-list order; one block claimed per node, revisions dense.
    expect(answered.map((a) => a.split(' ')[0])).toEqual(Array.from({ length: 50 }, (_, i) => `h-${i}`));
    const addressOf = (i: number) => answered[i].split(' ')[1];
    const nth = (block: string, n: number) => `${formatIP(4, (parseCIDR(block) as ParsedCIDR).network + BigInt(n))}/32`;
    const [b1, b2] = events.map((e) => e.block.cidr);
    expect([addressOf(0), addressOf(1), addressOf(2), addressOf(3)]).toEqual([nth(b1, 0), nth(b2, 0), nth(b1, 1), nth(b2, 1)]);
    expect(events.map((e) => [e.block.node, e.revision])).toEqual([
      ['n1', 1],
      ['n2', 2],
    ]);
  });

  it('calls arriving while a batch syncs wait for it, then commit together in one transaction with one sync', async () => {
    const held = heldSync();
    const { assign, batches, engine } = setup({ sync: held.sync });
    const first = assign('n1', 'a');
    await settle();
    const later = [assign('n1', 'b'), assign('n1', 'c')];
    await settle();
    // The first batch is syncing: the others wait, uncommitted.
    expect(held.started()).toBe(1);
    expect(engine.allocationsOfHandle('b')).toEqual([]);
    held.release();
    await first;
    await settle();
    expect(held.started()).toBe(2);
    expect(engine.allocationsOfHandle('c')).toHaveLength(1);
    held.release();
    const [b, c] = await Promise.all(later);
    expect(batches).toEqual([1, 2]);
    // In call order: each got the address after the previous call's.
    const network = (r: { ipv4: string[] }) => (parseCIDR(r.ipv4[0]) as ParsedCIDR).network;
    expect([network(b) - network(await first), network(c) - network(b)]).toEqual([1n, 1n]);
  });

  it('a failing call is rolled back alone; the others of its batch commit', async () => {
    const { committer, engine, assign } = setup();
    const [ok, bad] = await Promise.allSettled([
      assign('n1', 'ok'),
      committer.run((tx) => {
        engine.autoAssign(tx, { node: 'n2', handle: 'bad', numIpv4: 1, numIpv6: 0 });
        throw new ServiceError('invalid-argument', 'no');
      }),
    ]);
    expect(ok.status).toBe('fulfilled');
    expect(bad).toMatchObject({ status: 'rejected', reason: { reason: 'invalid-argument' } });
    expect(engine.allocationsOfHandle('ok')).toHaveLength(1);
    expect(engine.allocationsOfHandle('bad')).toHaveLength(0);
    expect(engine.blocks('n2')).toEqual([]);
  });

  it('a batch whose COMMIT fails fails every call in it (INTERNAL, saying nothing was written) and writes nothing', async () => {
    const { db, committer, engine, assign } = setup();
    const calls = [
      assign('n1', 'a'),
      assign('n2', 'b'),
      // Passes its own savepoint, but its deferred foreign key fails the COMMIT of the whole batch.
      committer.run(() => {
        db.pragma('defer_foreign_keys = ON');
        db.prepare("INSERT INTO allocations (address, block, ordinal, family, handle, node, attributes, created_at) VALUES ('10.99.0.1', '10.99.0.0/26', 1, 4, 'dangling', 'n1', '{}', 0)").run();
      }),
    ];
    const results = await Promise.allSettled(calls);
    for (const r of results) {
      expect(r).toMatchObject({ status: 'rejected', reason: { reason: 'internal' } });
      expect(((r as PromiseRejectedResult).reason as Error).message).toMatch(/commit failed.*nothing of this call was written/);
    }
    expect(engine.allocations()).toEqual([]);
    expect(engine.blocks()).toEqual([]);
    expect(engine.blockRevision()).toBe(0);
    // The next batch is fine.
    expect((await assign('n1', 'a')).ipv4).toHaveLength(1);
  });

  it('a batch that cannot begin (another process holds the write lock) fails every call with UNAVAILABLE and writes nothing', async () => {
    const { dir, engine, assign } = setup({ busyTimeoutMs: 50 });
    const other = new Database(`${dir.path}/ipam.db`);
    other.exec('BEGIN IMMEDIATE');
    const results = await Promise.allSettled([assign('n1', 'a'), assign('n2', 'b')]);
    for (const r of results) {
      expect(r).toMatchObject({ status: 'rejected', reason: { reason: 'unavailable' } });
      expect(((r as PromiseRejectedResult).reason as Error).message).toMatch(/another process holds the write lock.*nothing of this call was written, retry/);
    }
    other.exec('ROLLBACK');
    other.close();
    expect(engine.allocations()).toEqual([]);
    expect((await assign('n1', 'a')).ipv4).toHaveLength(1);
  });

  it('a failed sync fails the calls waiting on it and every later one with UNAVAILABLE (restart)', async () => {
    const nowhere = tempDir('tabby-ipam-nowhere-');
    cleanups.push(() => nowhere.remove());
    const broken = new WalSync(`${nowhere.path}/gone/ipam.db-wal`);
    const { assign, engine } = setup({ sync: () => broken.sync() });
    const results = await Promise.allSettled([assign('n1', 'a'), assign('n2', 'b')]);
    for (const r of results) {
      expect(r).toMatchObject({ status: 'rejected', reason: { reason: 'unavailable' } });
      expect(((r as PromiseRejectedResult).reason as Error).message).toMatch(/cannot sync .*restart tabby-ipam/);
    }
    // Committed, so the same handles get the same addresses once the process is restarted; here
    // the sync stays failed.
    expect(engine.allocationsOfHandle('a')).toHaveLength(1);
    await expect(assign('n1', 'c')).rejects.toMatchObject({ reason: 'unavailable' });
  });

  it('close() waits until every committed batch is synced and answered', async () => {
    const held = heldSync();
    const { assign, committer } = setup({ sync: held.sync });
    const answered: string[] = [];
    const a = assign('n1', 'a').then(() => answered.push('a'));
    await settle();
    let closed = false;
    const closing = committer.close().then(() => (closed = true));
    await settle();
    expect(closed).toBe(false);
    held.release();
    await closing;
    await a;
    expect(answered).toEqual(['a']);
    await expect(assign('n1', 'b')).rejects.toThrow(/closed/);
  });
});

describe('WalSync', () => {
  it('syncs the WAL of a real database; calls arriving during a sync share the next one', async () => {
    const { db } = setup();
    const wal = new WalSync(`${db.name}-wal`);
    db.prepare("INSERT INTO meta (key, value) VALUES ('x', 1)").run();
    await Promise.all([wal.sync(), wal.sync(), wal.sync()]);
    await wal.close();
  });
});
