/**
 * The allocator in process over a real SQLite file: Calico's block model, exactly as a
 * user would notice it (which addresses, which blocks, which errors).
 */
import { parseCIDR, type ParsedCIDR } from '@tabby/api';
import { tempDir } from '@tabby/harness';
import { createLogger } from '@tabby/runtime';
import { mustParseSelector } from '@tabby/selector';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCommitter, IpamEngine, StaticClusterView, openDatabase, type BlockChange, type PoolInfo } from '../src/index.js';

const logger = createLogger({ service: 'ipam-test', level: 'silent' });
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function pool(name: string, cidr: string, extra: Partial<Omit<PoolInfo, 'nodeSelector'>> & { nodeSelector?: string } = {}): PoolInfo {
  const c = parseCIDR(cidr) as ParsedCIDR;
  return {
    name,
    cidr: c,
    blockSize: extra.blockSize ?? (c.family === 4 ? 26 : 122),
    disabled: extra.disabled ?? false,
    nodeSelector: mustParseSelector(extra.nodeSelector ?? 'all()'),
    allowedUses: extra.allowedUses ?? ['Workload', 'Tunnel'],
    manual: extra.manual ?? false,
  };
}

function setup(pools: PoolInfo[], nodes: Record<string, Record<string, string>> = { node1: {}, node2: {}, node3: {} }, opts: { strictAffinity?: boolean; maxBlocksPerHost?: number } = {}) {
  const dir = tempDir('tabby-ipam-engine-');
  const db = openDatabase(dir.path, logger);
  cleanups.push(() => {
    db.close();
    dir.remove();
  });
  const events: BlockChange[] = [];
  const view = new StaticClusterView(pools, new Map(Object.entries(nodes)));
  const engine = new IpamEngine({ db, view, ...opts });
  const committer = new GroupCommitter<BlockChange>(db, logger, (e) => events.push(...e));
  const assign = (node: string, handle: string, numIpv4 = 1, numIpv6 = 0, more: { ipv4Pools?: string[]; ipv6Pools?: string[] } = {}) =>
    committer.run((tx) => engine.autoAssign(tx, { node, handle, numIpv4, numIpv6, ...more }));
  return { db, engine, committer, events, assign };
}

describe('AutoAssign: Calico blocks', () => {
  it('carves the pool into /26 blocks affine to the node and hands out addresses in order from its own block', async () => {
    const { engine, assign, events } = setup([pool('default-ipv4-ippool', '192.168.0.0/16')]);
    const a = await assign('node1', 'h1');
    const b = await assign('node1', 'h2');
    expect(a.ipv4[0]).toMatch(/^192\.168\.\d+\.\d+\/32$/);
    const blocks = engine.blocks();
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toMatchObject({ node: 'node1', size: 64, inUse: 2, poolCidr: '192.168.0.0/16' });
    expect(parseCIDR(blocks[0].cidr)?.prefix).toBe(26);
    // ordinal 0 (the block's network address) first, then 1, as Calico does
    expect(a.ipv4[0]).toBe(`${blocks[0].cidr.split('/')[0]}/32`);
    const next = parseCIDR(`${b.ipv4[0].split('/')[0]}/32`)!.address.value - parseCIDR(blocks[0].cidr)!.network;
    expect(next).toBe(1n);
    expect(events.map((e) => [e.type, e.block.node, e.revision])).toEqual([[1, 'node1', 1]]);
  });

  it('claims another block when its blocks are full, and gives every node its own blocks', async () => {
    const { engine, assign } = setup([pool('p', '10.0.0.0/16', { blockSize: 29 })]);
    for (let i = 0; i < 10; i++) await assign('node1', `a${i}`);
    await assign('node2', 'b0');
    const byNode = engine.blocks().map((b) => `${b.node}:${b.inUse}`);
    expect(byNode.sort()).toEqual(['node1:2', 'node1:8', 'node2:1']);
  });

  it('borrows from another node only when no block is free, and never under strict affinity', async () => {
    const pools = [pool('tiny', '10.9.0.0/28', { blockSize: 29 })]; // two blocks of 8
    const { engine, assign } = setup(pools);
    await assign('node1', 'x1');
    await assign('node2', 'x2');
    const borrowed = await assign('node3', 'x3');
    const owner = engine.getAllocation(borrowed.ipv4[0])!;
    expect(owner.node).toBe('node3');
    expect(owner.blockNode).not.toBe('node3');
    expect(engine.borrowedCounts().get(owner.block)).toBe(1);

    const strict = setup(pools, undefined, { strictAffinity: true });
    await strict.assign('node1', 'x1');
    await strict.assign('node2', 'x2');
    await expect(strict.assign('node3', 'x3')).rejects.toMatchObject({
      reason: 'resource-exhausted',
      message: 'Assigned 0 out of 1 requested IPv4 addresses; No more free affine blocks and strict affinity enabled',
    });
  });

  it('says the pool is exhausted with RESOURCE_EXHAUSTED and assigns nothing of a request it cannot complete', async () => {
    const { engine, assign } = setup([pool('tiny', '10.9.0.0/29', { blockSize: 29 })]);
    await assign('node1', 'six', 6);
    await expect(assign('node1', 'three', 3)).rejects.toMatchObject({
      reason: 'resource-exhausted',
      message: 'Assigned 2 out of 3 requested IPv4 addresses; No IPs available in pools: [10.9.0.0/29]',
    });
    expect(engine.allocationsOfHandle('three')).toEqual([]);
    expect(engine.blocks()[0].inUse).toBe(6);
  });

  it('is idempotent per handle: the same handle gets the same addresses', async () => {
    const { engine, assign } = setup([pool('v4', '10.1.0.0/16'), pool('v6', 'fd00:1::/64')]);
    const first = await assign('node1', 'pod-a', 1, 1);
    const again = await assign('node1', 'pod-a', 1, 1);
    expect(again).toEqual({ ipv4: first.ipv4, ipv6: first.ipv6, existing: true });
    expect(engine.allocations()).toHaveLength(2);
  });

  it('hands out IPv6 from /122 blocks', async () => {
    const { engine, assign } = setup([pool('v6', 'fd00:10::/48')]);
    const r = await assign('node1', 'six', 0, 2);
    expect(r.ipv4).toEqual([]);
    expect(r.ipv6).toHaveLength(2);
    for (const a of r.ipv6) expect(a).toMatch(/^fd00:10:.*\/128$/);
    expect(engine.blocks()[0]).toMatchObject({ family: 6, size: 64, inUse: 2 });
    expect(parseCIDR(engine.blocks()[0].cidr)?.prefix).toBe(122);
  });

  it('uses only enabled pools whose nodeSelector matches the node, sorted by name, or the pools asked for', async () => {
    const pools = [
      pool('a-rack1', '10.1.0.0/16', { nodeSelector: "rack == 'r1'" }),
      pool('b-all', '10.2.0.0/16'),
      pool('c-disabled', '10.3.0.0/16', { disabled: true }),
    ];
    const { assign } = setup(pools, { n1: { rack: 'r1' }, n2: { rack: 'r2' } });
    expect((await assign('n1', 'h1')).ipv4[0]).toMatch(/^10\.1\./);
    expect((await assign('n2', 'h2')).ipv4[0]).toMatch(/^10\.2\./);
    expect((await assign('n1', 'h3', 1, 0, { ipv4Pools: ['b-all'] })).ipv4[0]).toMatch(/^10\.2\./);
    await expect(assign('n1', 'h4', 1, 0, { ipv4Pools: ['c-disabled'] })).rejects.toMatchObject({
      reason: 'failed-precondition',
      message: 'the given pool (10.3.0.0/16) does not exist, or is not enabled',
    });
    await expect(assign('ghost', 'h5')).rejects.toMatchObject({ reason: 'not-found', message: 'node "ghost" does not exist: create its Node resource first' });
  });

  it('refuses a node with no pool for it, and a family with no enabled pool', async () => {
    const { assign } = setup([pool('only-r1', '10.1.0.0/16', { nodeSelector: "rack == 'r1'" })], { n2: {} });
    await expect(assign('n2', 'h')).rejects.toMatchObject({ message: 'no configured Calico pools for node n2' });
    await expect(assign('n2', 'h6', 0, 1)).rejects.toMatchObject({ message: 'cannot find a qualified ippool: no enabled IPv6 IPPool' });
  });

  it('keeps to the per-host block limit', async () => {
    const { assign } = setup([pool('p', '10.0.0.0/16', { blockSize: 30 })], undefined, { maxBlocksPerHost: 2 });
    await assign('node1', 'eight', 8);
    await expect(assign('node1', 'more')).rejects.toMatchObject({
      reason: 'resource-exhausted',
      message: 'Assigned 0 out of 1 requested IPv4 addresses; cannot allocate new block due to per host block limit (2 blocks on node node1)',
    });
  });
});

describe('release', () => {
  it('frees addresses, reuses released ones last, and releases a block with its last address', async () => {
    const { engine, committer, assign, events } = setup([pool('p', '10.0.0.0/16', { blockSize: 30 })]);
    const a = await assign('node1', 'a');
    const b = await assign('node1', 'b');
    await committer.run((tx) => engine.releaseIPs(tx, [a.ipv4[0]]));
    const c = await assign('node1', 'c');
    expect(c.ipv4[0]).not.toBe(a.ipv4[0]); // released ordinals go to the end of the free list
    const notMine = await committer.run((tx) => engine.releaseIPs(tx, [b.ipv4[0]], 'someone-else'));
    expect(notMine).toEqual({ released: [], unallocated: [b.ipv4[0].replace('/32', '')] });
    await committer.run((tx) => engine.releaseByHandle(tx, 'b'));
    await committer.run((tx) => engine.releaseByHandle(tx, 'c'));
    expect(engine.blocks()).toEqual([]);
    expect(events.map((e) => e.type)).toEqual([1, 2]); // claimed, released
  });

  it('AssignIP takes one address in an enabled pool and refuses one in use or outside pools', async () => {
    const { engine, committer } = setup([pool('p', '10.0.0.0/16'), pool('off', '10.7.0.0/16', { disabled: true })]);
    expect(await committer.run((tx) => engine.assignIP(tx, '10.0.3.7', 'h', 'node2'))).toBe('10.0.3.7/32');
    expect(engine.blocks()).toMatchObject([{ cidr: '10.0.3.0/26', node: 'node2', inUse: 1 }]);
    await expect(committer.run((tx) => engine.assignIP(tx, '10.0.3.7', 'h2', 'node2'))).rejects.toMatchObject({ reason: 'already-exists' });
    await expect(committer.run((tx) => engine.assignIP(tx, '10.7.0.1', 'h3', 'node2'))).rejects.toMatchObject({
      message: 'The provided IP address 10.7.0.1 is not in a configured pool',
    });
  });

  it('a deleted pool leaves its non-empty blocks without a node and drops the empty ones', async () => {
    const { engine, committer, assign } = setup([pool('p', '10.0.0.0/16')]);
    await assign('node1', 'a');
    const n = await committer.run((tx) => engine.releasePoolAffinities(tx, '10.0.0.0/16'));
    expect(n).toBe(1);
    expect(engine.blocks()).toMatchObject([{ node: null, inUse: 1 }]);
  });
});

describe('listing allocations by node and handle prefix (what tabby-cni GC asks)', () => {
  it('a prefix is exact: `net.` never lists `net-b.` or `ne.`; the node filter is the allocation\'s node, borrowed addresses included', async () => {
    const { engine, assign } = setup([pool('tiny', '10.0.0.0/28', { blockSize: 29 })], { node1: {}, node2: {} }); // two blocks of 8
    await assign('node2', 'net.c6');
    for (const h of ['net.c2', 'net.c1', 'net-b.c3', 'ne.c4', 'net.x.c5', 'netz', 'workload:default/web', 'other.c8']) await assign('node1', h);
    // node1's one block is full: the next address is borrowed from node2's block but still node1's.
    const borrowed = await assign('node1', 'net.c7');
    expect(engine.getAllocation(borrowed.ipv4[0])).toMatchObject({ node: 'node1', blockNode: 'node2' });

    const handles = (node: string, prefix: string) => engine.allocationsMatching(node, prefix).map((a) => `${a.handle}@${a.node}`);
    expect(handles('node1', 'net.')).toEqual(['net.c1@node1', 'net.c2@node1', 'net.c7@node1', 'net.x.c5@node1']);
    expect(handles('', 'net.')).toEqual(['net.c1@node1', 'net.c2@node1', 'net.c6@node2', 'net.c7@node1', 'net.x.c5@node1']);
    expect(handles('node2', '')).toEqual(['net.c6@node2']);
    expect(handles('node1', 'nothing.')).toEqual([]);
    expect(engine.allocationsMatching('', '')).toHaveLength(10);
    expect(engine.allocationsMatching('node1', 'net.c1')[0]).toMatchObject({ handle: 'net.c1', address: expect.stringMatching(/^10\.0\.0\.\d+$/) as unknown, attributes: { node: 'node1' } });
  });
});
