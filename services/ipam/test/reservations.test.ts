/**
 * IPReservation and IPAMConfiguration as the allocator follows them, over a real SQLite file:
 * reserved addresses are never auto-assigned, wholly reserved blocks are never claimed,
 * existing allocations stay, explicit addresses ignore reservations; maxBlocksPerHost 0 is
 * Calico's built-in 20, autoAllocateBlocks false claims nothing, and the resource wins over
 * the flags while it exists. The same on etcd (Calico's layout) for the etcd datastore.
 */
import { formatIP, parseCIDR, parseIPOrCIDR, type ParsedCIDR } from '@tabby/api';
import { ProcessGroup, startEtcdCluster, tempDir, type EtcdCluster } from '@tabby/harness';
import { createLogger } from '@tabby/runtime';
import { mustParseSelector } from '@tabby/selector';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EtcdStorage, GroupCommitter, IpamEngine, Reservations, StaticClusterView, openDatabase, type BlockChange, type PoolInfo } from '../src/index.js';

const logger = createLogger({ service: 'ipam-test', level: 'silent' });
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function pool(name: string, cidr: string, blockSize: number): PoolInfo {
  const c = parseCIDR(cidr) as ParsedCIDR;
  return { name, cidr: c, blockSize, disabled: false, nodeSelector: mustParseSelector('all()'), allowedUses: ['Workload', 'Tunnel'], manual: false };
}

/** The address at `ordinal` in a block. */
const at = (block: ParsedCIDR, ordinal: number): string => formatIP(block.family, block.network + BigInt(ordinal));

function reserve(...entries: string[]): Reservations {
  return new Reservations(entries.map((e) => parseIPOrCIDR(e) as ParsedCIDR));
}

function setup(pools: PoolInfo[], flags: { strictAffinity?: boolean; maxBlocksPerHost?: number } = {}) {
  const dir = tempDir('tabby-ipam-reservations-');
  const db = openDatabase(dir.path, logger);
  cleanups.push(() => {
    db.close();
    dir.remove();
  });
  const view = new StaticClusterView(pools, new Map([['node1', {}], ['node2', {}], ['node3', {}]]));
  const engine = new IpamEngine({ db, view, ...flags });
  const committer = new GroupCommitter<BlockChange>(db, logger, () => undefined);
  const assign = async (node: string, handle: string, n = 1): Promise<string[]> =>
    (await committer.run((tx) => engine.autoAssign(tx, { node, handle, numIpv4: n, numIpv6: 0 }))).ipv4.map((a) => a.replace(/\/32$/, ''));
  const assignIP = (address: string, handle: string, node: string) => committer.run((tx) => engine.assignIP(tx, address, handle, node));
  return { view, engine, committer, assign, assignIP };
}

describe('Reservations', () => {
  it('merges entries per family and answers membership, counts and cover', () => {
    const r = reserve('10.0.0.1', '10.0.0.5/30', '10.0.0.2/31', 'fd00::8/127');
    expect(r.empty).toBe(false);
    expect(r.has(4, parseCIDR('10.0.0.3/32')!.network)).toBe(true);
    expect(r.has(4, parseCIDR('10.0.0.8/32')!.network)).toBe(false);
    expect(r.countIn(parseCIDR('10.0.0.0/29')!)).toBe(7n); // .1-.7
    expect(r.covers(parseCIDR('10.0.0.4/30')!)).toBe(true);
    expect(r.covers(parseCIDR('10.0.0.0/29')!)).toBe(false);
    expect([...(r.ordinalsIn(parseCIDR('fd00::/124')!) ?? [])]).toEqual([8, 9]);
    expect(r.ordinalsIn(parseCIDR('10.0.1.0/29')!)).toBeUndefined();
  });
});

describe('AutoAssign with IPReservations', () => {
  it('skips reserved addresses (single IPs and unmasked CIDRs) in free-list order, and runs out when only reserved ones are left', async () => {
    const { view, engine, assign } = setup([pool('one-block', '10.0.0.0/29', 29)]);
    view.reserved = reserve('10.0.0.1', '10.0.0.5/31');
    expect(await assign('node1', 'a', 5)).toEqual(['10.0.0.0', '10.0.0.2', '10.0.0.3', '10.0.0.6', '10.0.0.7']);
    await expect(assign('node1', 'b')).rejects.toMatchObject({
      reason: 'resource-exhausted',
      message: 'Assigned 0 out of 1 requested IPv4 addresses; No IPs available in pools: [10.0.0.0/29]',
    });
    expect(engine.blocks()).toMatchObject([{ cidr: '10.0.0.0/29', inUse: 5 }]);
  });

  it('never claims a block wholly reserved, whatever the node\'s starting block', async () => {
    for (const node of ['node1', 'node2', 'node3']) {
      const { view, engine, assign } = setup([pool('two-blocks', '10.0.0.0/28', 29)]);
      view.reserved = reserve('10.0.0.0/29', '10.0.0.12/30');
      expect(await assign(node, 'a', 4)).toEqual(['10.0.0.8', '10.0.0.9', '10.0.0.10', '10.0.0.11']);
      await expect(assign(node, 'b')).rejects.toMatchObject({ reason: 'resource-exhausted' });
      expect(engine.blocks().map((b) => b.cidr)).toEqual(['10.0.0.8/29']);
    }
  });

  it('keeps existing allocations inside a new reservation and skips the reserved addresses from then on', async () => {
    const { view, engine, committer, assign } = setup([pool('one-block', '10.0.0.0/29', 29)]);
    expect(await assign('node1', 'early', 2)).toEqual(['10.0.0.0', '10.0.0.1']);
    view.reserved = reserve('10.0.0.0/30');
    expect(await assign('node1', 'late')).toEqual(['10.0.0.4']);
    expect(engine.getAllocation('10.0.0.1')?.handle).toBe('early');
    expect(engine.allocations().map((a) => a.address)).toEqual(['10.0.0.0', '10.0.0.1', '10.0.0.4']);
    // A reserved address released is not handed out again.
    await committer.run((tx) => engine.releaseIPs(tx, ['10.0.0.1']));
    expect(await assign('node1', 'later', 3)).toEqual(['10.0.0.5', '10.0.0.6', '10.0.0.7']);
    await expect(assign('node1', 'full')).rejects.toMatchObject({ reason: 'resource-exhausted' });
  });

  it('borrows only from a block with an unreserved free address', async () => {
    const { view, engine, assign } = setup([pool('two-blocks', '10.0.0.0/28', 29)]);
    await assign('node1', 'n1');
    await assign('node2', 'n2');
    const blockOf = (node: string) => parseCIDR(engine.blocks(node)[0].cidr) as ParsedCIDR;
    const a = blockOf('node1');
    const b = blockOf('node2');
    // node1's block wholly, node2's but for its last address.
    view.reserved = reserve(a.canonical, `${at(b, 0)}/30`, `${at(b, 4)}/31`, at(b, 6));
    const last = at(b, 7);
    expect(await assign('node3', 'n3')).toEqual([last]);
    expect(engine.getAllocation(last)).toMatchObject({ node: 'node3', blockNode: 'node2' });
  });

  it('AssignIP (an explicit address) does not consult reservations', async () => {
    const { view, assignIP } = setup([pool('one-block', '10.0.0.0/29', 29)]);
    view.reserved = reserve('10.0.0.0/29');
    expect(await assignIP('10.0.0.3', 'fixed', 'node1')).toBe('10.0.0.3/32');
  });
});

describe('IPAMConfiguration semantics', () => {
  it('maxBlocksPerHost 0 (the flag default) is the built-in limit of 20 blocks', async () => {
    const { engine, assign } = setup([pool('p', '10.0.0.0/16', 32)]);
    await assign('node1', 'twenty', 20);
    expect(engine.blocks('node1')).toHaveLength(20);
    await expect(assign('node1', 'more')).rejects.toMatchObject({
      reason: 'resource-exhausted',
      message: 'Assigned 0 out of 1 requested IPv4 addresses; cannot allocate new block due to per host block limit (20 blocks on node node1)',
    });
  });

  it('the resource wins over the flags while it exists; without it the flags apply again', async () => {
    const { view, assign } = setup([pool('p', '10.0.0.0/16', 32)], { maxBlocksPerHost: 1 });
    await assign('node1', 'one');
    await expect(assign('node1', 'two')).rejects.toMatchObject({ message: /per host block limit \(1 blocks/ });
    view.config = { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 3 };
    await assign('node1', 'two', 2);
    await expect(assign('node1', 'four')).rejects.toMatchObject({ message: /per host block limit \(3 blocks/ });
    view.config = undefined;
    await expect(assign('node2', 'n2', 2)).rejects.toMatchObject({ message: 'Assigned 1 out of 2 requested IPv4 addresses; cannot allocate new block due to per host block limit (1 blocks on node node2)' });
  });

  it('autoAllocateBlocks false claims no block: own blocks first, then borrowing, none under strict affinity', async () => {
    const { view, engine, assign } = setup([pool('two-blocks', '10.0.0.0/28', 29)]);
    await assign('node1', 'first');
    view.config = { strictAffinity: false, autoAllocateBlocks: false, maxBlocksPerHost: 0 };
    await assign('node1', 'own', 7);
    expect(engine.blocks().map((b) => `${b.node}:${b.inUse}`)).toEqual(['node1:8']);
    // node2 has no block and may not claim one: there is nothing to borrow either.
    await expect(assign('node2', 'none')).rejects.toMatchObject({ message: 'Assigned 0 out of 1 requested IPv4 addresses; No IPs available in pools: [10.0.0.0/28]' });
    view.config = { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 };
    await assign('node2', 'claims');
    view.config = { strictAffinity: false, autoAllocateBlocks: false, maxBlocksPerHost: 0 };
    const borrowed = await assign('node3', 'borrows');
    expect(engine.getAllocation(borrowed[0])).toMatchObject({ node: 'node3', blockNode: 'node2' });
    view.config = { strictAffinity: true, autoAllocateBlocks: false, maxBlocksPerHost: 0 };
    await expect(assign('node3', 'strict')).rejects.toMatchObject({ message: 'Assigned 0 out of 1 requested IPv4 addresses; No more free affine blocks and strict affinity enabled' });
    expect(engine.blocks()).toHaveLength(2);
  });

  it('strictAffinity from the resource overrides the flag', async () => {
    const { view, assign } = setup([pool('one-block', '10.0.0.0/29', 29)], { strictAffinity: true });
    await assign('node1', 'owner');
    await expect(assign('node2', 'strict')).rejects.toMatchObject({ message: /strict affinity enabled/ });
    view.config = { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 0 };
    expect(await assign('node2', 'borrows')).toEqual(['10.0.0.1']);
  });
});

describe('on etcd: the same rules', () => {
  const group = new ProcessGroup();
  const etcdDir = tempDir('tabby-ipam-reservations-etcd-');
  let etcd: EtcdCluster;
  beforeAll(async () => {
    etcd = await startEtcdCluster(group, `${etcdDir.path}/etcd`, { size: 1 });
  }, 60_000);
  afterAll(async () => {
    await group.stopAll();
    etcdDir.remove();
  });

  it('skips reserved addresses and wholly reserved blocks, and follows the IPAMConfiguration', async () => {
    const view = new StaticClusterView([pool('res', '10.80.0.0/28', 29)], new Map([['node1', {}], ['node2', {}]]));
    const storage = await EtcdStorage.open({ etcd: { endpoints: etcd.endpoints.split(',') }, view, logger, onCommit: () => undefined });
    try {
      const assign = async (node: string, handle: string, n = 1): Promise<string[]> =>
        (await storage.autoAssign({ node, handle, numIpv4: n, numIpv6: 0 })).ipv4.map((a) => a.replace(/\/32$/, ''));
      // The first block wholly reserved, the second but for .9 and .12-.15.
      view.reserved = reserve('10.80.0.0/29', '10.80.0.8', '10.80.0.10/31');
      expect(await assign('node1', 'a', 5)).toEqual(['10.80.0.9', '10.80.0.12', '10.80.0.13', '10.80.0.14', '10.80.0.15']);
      await expect(assign('node1', 'b')).rejects.toMatchObject({ reason: 'resource-exhausted', message: 'Assigned 0 out of 1 requested IPv4 addresses; No IPs available in pools: [10.80.0.0/28]' });
      expect(storage.blocks().map((b) => b.cidr)).toEqual(['10.80.0.8/29']);
      expect(await storage.assignIP('10.80.0.1', 'fixed', 'node2')).toBe('10.80.0.1/32');
      // Without the reservation, node2 uses its own block (claimed by AssignIP); with
      // autoAllocateBlocks false and that block full, strict affinity forbids borrowing.
      view.reserved = Reservations.NONE;
      expect(await assign('node2', 'c', 7)).toEqual(['10.80.0.0', '10.80.0.2', '10.80.0.3', '10.80.0.4', '10.80.0.5', '10.80.0.6', '10.80.0.7']);
      view.config = { strictAffinity: true, autoAllocateBlocks: false, maxBlocksPerHost: 0 };
      await expect(assign('node2', 'd')).rejects.toMatchObject({ message: 'Assigned 0 out of 1 requested IPv4 addresses; No more free affine blocks and strict affinity enabled' });
      view.config = { strictAffinity: false, autoAllocateBlocks: false, maxBlocksPerHost: 0 };
      expect(await assign('node2', 'd')).toEqual(['10.80.0.8']);
      expect(storage.getAllocation('10.80.0.8')).toMatchObject({ node: 'node2', blockNode: 'node1' });
      view.config = { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 1 };
      await expect(assign('node2', 'e', 3)).rejects.toMatchObject({ message: /per host block limit \(1 blocks on node node2\)/ });
    } finally {
      await storage.close();
    }
  }, 60_000);
});
