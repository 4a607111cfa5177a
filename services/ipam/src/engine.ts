import { cidrContains, cidrSize, formatIP, parseCIDR, parseIP, type IPFamily, type ParsedCIDR } from '@tabby/api';
import { BlockEventType } from '@tabby/proto';
import { ServiceError } from '@tabby/runtime';
import type { TxContext } from './commit.js';
import type { Db } from './database.js';
import { blockLimit, flagSettings, type IpamSettings, type Reservations } from './ipam-settings.js';
import type { ClusterView, PoolInfo } from './pools.js';

/** A block as IPAM stores it. */
export interface BlockRow {
  readonly cidr: string;
  readonly family: IPFamily;
  readonly poolCidr: string;
  readonly node: string | null;
  readonly size: number;
  readonly inUse: number;
}

/** A change of block affinity, published after the commit. */
export interface BlockChange {
  readonly type: BlockEventType;
  readonly revision: number;
  readonly block: BlockRow;
}

export type Tx = TxContext<BlockChange>;

export interface AssignRequest {
  readonly node: string;
  readonly handle: string;
  readonly numIpv4: number;
  readonly numIpv6: number;
  readonly ipv4Pools?: readonly string[];
  readonly ipv6Pools?: readonly string[];
  readonly attributes?: Readonly<Record<string, string>>;
  /** Workload (default), Tunnel or LoadBalancer: only pools allowing it qualify. */
  readonly use?: string | undefined;
  /** Labels of the workload's namespace, matched against the pools' namespaceSelector. */
  readonly namespaceLabels?: Readonly<Record<string, string>> | undefined;
}

export interface AssignResult {
  /** Single-address CIDRs. */
  readonly ipv4: string[];
  readonly ipv6: string[];
  readonly existing: boolean;
}

export interface Allocation {
  readonly address: string;
  readonly family: IPFamily;
  readonly handle: string;
  readonly node: string;
  readonly attributes: Record<string, string>;
  readonly block: string;
  readonly blockNode: string | null;
  /** CIDR of the pool the block was carved from. */
  readonly blockPoolCidr: string;
  readonly createdAt: number;
}

export interface EngineOptions {
  readonly db: Db;
  readonly view: ClusterView;
  /** Never borrow from another node's block (Calico's StrictAffinity); used while no IPAMConfiguration exists. */
  readonly strictAffinity?: boolean;
  /** Blocks one node may hold per family, 0 = the built-in 20; used while no IPAMConfiguration exists. */
  readonly maxBlocksPerHost?: number;
  readonly now?: () => number;
}

interface BlockDbRow {
  cidr: string;
  family: number;
  pool_cidr: string;
  node: string | null;
  size: number;
  in_use: number;
  free_list: Buffer;
}

interface AllocationDbRow {
  address: string;
  block: string;
  ordinal: number;
  family: number;
  handle: string;
  node: string;
  attributes: string;
  created_at: number;
  block_node: string | null;
  block_pool_cidr: string;
}

export const HOST_BITS: Record<IPFamily, number> = { 4: 32, 6: 128 };
/** Blocks a claim probes before it asks whether the pool has any free one left. */
const CLAIM_WALK_BEFORE_COUNT = 1024n;
export const familyName = (f: IPFamily): string => (f === 4 ? 'IPv4' : 'IPv6');

/** FNV-1a 32-bit: the start of a node's walk over a pool's blocks (Calico seeds with FNV-32 of the host name). */
export function fnv32a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function rowToBlock(r: BlockDbRow): BlockRow {
  return { cidr: r.cidr, family: r.family as IPFamily, poolCidr: r.pool_cidr, node: r.node, size: r.size, inUse: r.in_use };
}

function freeListOf(size: number): Buffer {
  const b = Buffer.allocUnsafe(size * 4);
  for (let i = 0; i < size; i++) b.writeUInt32LE(i, i * 4);
  return b;
}

function addressOf(block: ParsedCIDR, ordinal: number): string {
  return formatIP(block.family, block.network + BigInt(ordinal));
}

export function singleCidr(family: IPFamily, address: string): string {
  return `${address}/${HOST_BITS[family]}`;
}

/** Calico's intended uses of an address (IPPool allowedUses). */
export const IP_USES = ['Workload', 'Tunnel', 'LoadBalancer'] as const;
export type IPUse = (typeof IP_USES)[number];

/** The use of a request: Workload when not given; INVALID_ARGUMENT for an unknown one. */
export function intendedUse(use: string | undefined): IPUse {
  if (use === undefined || use === '') return 'Workload';
  if ((IP_USES as readonly string[]).includes(use)) return use as IPUse;
  throw new ServiceError('invalid-argument', `unknown use: ${use} (Workload, Tunnel or LoadBalancer)`);
}

/** What else, besides family, node and requested pools, decides the pools of an assignment. */
export interface PoolChoice {
  /** Default Workload. */
  readonly use?: string | undefined;
  /** Labels of the workload's namespace, for the pools' namespaceSelector (none: empty). */
  readonly namespaceLabels?: Readonly<Record<string, string>> | undefined;
}

/**
 * The pools an assignment of `family` for `node` may use (Calico's rules): the pools named in
 * `requested` (each must exist and be enabled; selectors and assignmentMode are ignored), else
 * the enabled, automatic pools whose nodeSelector matches the node and whose namespaceSelector
 * (when set) matches the namespace's labels; of those, the ones whose allowedUses hold the use.
 * Throws the Calico-like error.
 */
export function poolsForAssign(view: ClusterView, family: IPFamily, node: string, requested: readonly string[] | undefined, choice: PoolChoice = {}): PoolInfo[] {
  const use = intendedUse(choice.use);
  const all = view.pools().filter((p) => p.cidr.family === family);
  const enabled = all.filter((p) => !p.disabled);
  let selected: PoolInfo[];
  if (requested && requested.length > 0) {
    selected = requested.map((want) => {
      const p = enabled.find((x) => x.name === want || x.cidr.canonical === want || x.cidr.canonical === parseCIDR(want)?.canonical);
      if (!p) {
        const known = all.find((x) => x.name === want || x.cidr.canonical === want);
        throw new ServiceError('failed-precondition', `the given pool (${known ? known.cidr.canonical : want}) does not exist, or is not enabled`);
      }
      return p;
    });
  } else {
    if (enabled.length === 0) throw new ServiceError('failed-precondition', `cannot find a qualified ippool: no enabled ${familyName(family)} IPPool`);
    const labels = view.nodeLabels(node);
    if (labels === undefined) throw new ServiceError('not-found', `node "${node}" does not exist: create its Node resource first`);
    const nsLabels = choice.namespaceLabels ?? {};
    selected = enabled.filter((p) => !p.manual && p.nodeSelector.matches(labels) && (p.namespaceSelector === undefined || p.namespaceSelector.matches(nsLabels)));
    if (selected.length === 0) throw new ServiceError('failed-precondition', `no configured Calico pools for node ${node}`);
  }
  const usable = selected.filter((p) => p.allowedUses.includes(use));
  if (usable.length === 0) throw new ServiceError('failed-precondition', `cannot find a qualified ippool, no pools match the required use (${use})`);
  return usable;
}

/**
 * Calico's IPAM model over SQLite. Every method runs inside a transaction of the
 * {@link GroupCommitter} and either completes or throws (the savepoint rolls it back), so
 * a failure half-way never leaves an address or a block behind. Block affinity changes
 * are recorded in `tx.events` with a dense revision kept in the database, so several
 * processes sharing the file number them consistently.
 */
export class IpamEngine {
  private readonly s;
  private readonly now: () => number;

  constructor(private readonly opts: EngineOptions) {
    const db = opts.db;
    this.now = opts.now ?? Date.now;
    this.s = {
      blocksOfNode: db.prepare<[string, number], BlockDbRow>('SELECT * FROM blocks WHERE node = ? AND family = ? ORDER BY cidr'),
      // The partial indexes of blocks with room (database.ts), named (SQLite would pick the plain
      // ones without statistics): the cost does not grow with the full blocks of the node or pool.
      roomyBlocksOfNode: db.prepare<[string, number], BlockDbRow>('SELECT * FROM blocks INDEXED BY blocks_with_room WHERE node = ? AND family = ? AND in_use < size ORDER BY cidr'),
      countNodeBlocks: db.prepare<[string, number], { n: number }>('SELECT COUNT(*) AS n FROM blocks WHERE node = ? AND family = ?'),
      countPoolBlocks: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM blocks WHERE pool_cidr = ?'),
      blockExists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM blocks WHERE cidr = ?'),
      blockWithRoom: db.prepare<[string], BlockDbRow>('SELECT * FROM blocks INDEXED BY blocks_with_room_by_pool WHERE pool_cidr = ? AND in_use < size ORDER BY cidr LIMIT 1'),
      blocksWithRoom: db.prepare<[string], BlockDbRow>('SELECT * FROM blocks INDEXED BY blocks_with_room_by_pool WHERE pool_cidr = ? AND in_use < size ORDER BY cidr'),
      block: db.prepare<[string], BlockDbRow>('SELECT * FROM blocks WHERE cidr = ?'),
      insertBlock: db.prepare<[string, number, string, string | null, number, number, Buffer]>(
        'INSERT INTO blocks (cidr, family, pool_cidr, node, size, in_use, free_list) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      updateBlockUse: db.prepare<[number, Buffer, string]>('UPDATE blocks SET in_use = ?, free_list = ? WHERE cidr = ?'),
      setBlockNode: db.prepare<[string | null, string]>('UPDATE blocks SET node = ? WHERE cidr = ?'),
      deleteBlock: db.prepare<[string]>('DELETE FROM blocks WHERE cidr = ?'),
      allBlocks: db.prepare<[], BlockDbRow>('SELECT * FROM blocks ORDER BY cidr'),
      blocksOfPool: db.prepare<[string], BlockDbRow>('SELECT * FROM blocks WHERE pool_cidr = ? ORDER BY cidr'),
      poolBlocksUpTo: db.prepare<[string, number], { n: number }>('SELECT COUNT(*) AS n FROM (SELECT 1 FROM blocks WHERE pool_cidr = ? LIMIT ?)'),
      poolUse: db.prepare<[string], { inUse: number | null; blocks: number }>('SELECT SUM(in_use) AS inUse, COUNT(*) AS blocks FROM blocks WHERE pool_cidr = ?'),
      insertAllocation: db.prepare<[string, string, number, number, string, string, string, number]>(
        'INSERT INTO allocations (address, block, ordinal, family, handle, node, attributes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      allocation: db.prepare<[string], AllocationDbRow>(
        'SELECT a.*, b.node AS block_node, b.pool_cidr AS block_pool_cidr FROM allocations a JOIN blocks b ON b.cidr = a.block WHERE a.address = ?',
      ),
      allocationsOfHandle: db.prepare<[string], AllocationDbRow>(
        'SELECT a.*, b.node AS block_node, b.pool_cidr AS block_pool_cidr FROM allocations a JOIN blocks b ON b.cidr = a.block WHERE a.handle = ? ORDER BY a.family, a.created_at, a.address',
      ),
      allocationsOfPool: db.prepare<[string], { handle: string; attributes: string }>(
        'SELECT a.handle, a.attributes FROM allocations a JOIN blocks b ON b.cidr = a.block WHERE b.pool_cidr = ?',
      ),
      allAllocations: db.prepare<[], AllocationDbRow>('SELECT a.*, b.node AS block_node, b.pool_cidr AS block_pool_cidr FROM allocations a JOIN blocks b ON b.cidr = a.block ORDER BY a.address'),
      allAllocationsByHandle: db.prepare<[], AllocationDbRow>(
        'SELECT a.*, b.node AS block_node, b.pool_cidr AS block_pool_cidr FROM allocations a JOIN blocks b ON b.cidr = a.block ORDER BY a.handle, a.family, a.address',
      ),
      // Handles in [from, to): a prefix as a range, so the handle index answers it.
      allocationsOfHandleRange: db.prepare<[string, string], AllocationDbRow>(
        'SELECT a.*, b.node AS block_node, b.pool_cidr AS block_pool_cidr FROM allocations a JOIN blocks b ON b.cidr = a.block WHERE a.handle >= ? AND a.handle < ? ORDER BY a.handle, a.family, a.address',
      ),
      deleteAllocation: db.prepare<[string]>('DELETE FROM allocations WHERE address = ?'),
      borrowedByBlock: db.prepare<[], { block: string; n: number }>(
        'SELECT a.block AS block, COUNT(*) AS n FROM allocations a JOIN blocks b ON b.cidr = a.block WHERE b.node IS NULL OR a.node != b.node GROUP BY a.block',
      ),
      nextRevision: db.prepare<[], { value: number }>("UPDATE meta SET value = value + 1 WHERE key = 'block_revision' RETURNING value"),
      revision: db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'block_revision'"),
    };
  }

  // ---- events ----

  private record(tx: Tx, type: BlockEventType, block: BlockRow): void {
    const r = this.s.nextRevision.get();
    tx.events.push({ type, revision: r?.value ?? 0, block });
  }

  /** Current block revision (of the last affinity change). */
  blockRevision(): number {
    return this.s.revision.get()?.value ?? 0;
  }

  /** The IPAMConfiguration in the store, else the flags (read per request: it follows the store). */
  settings(): IpamSettings {
    return this.opts.view.ipamConfig() ?? flagSettings(this.opts);
  }

  // ---- pool choice ----

  private poolsFor(family: IPFamily, node: string, requested: readonly string[] | undefined, choice: PoolChoice = {}): PoolInfo[] {
    return poolsForAssign(this.opts.view, family, node, requested, choice);
  }

  // ---- assignment ----

  autoAssign(tx: Tx, req: AssignRequest): AssignResult {
    if (!req.handle) throw new ServiceError('invalid-argument', 'handle must be given');
    if (!req.node) throw new ServiceError('invalid-argument', 'node must be given');
    if (req.numIpv4 > 256 || req.numIpv6 > 256) throw new ServiceError('invalid-argument', 'at most 256 addresses of a family per request');
    intendedUse(req.use);
    const held = this.s.allocationsOfHandle.all(req.handle);
    const have = { 4: held.filter((a) => a.family === 4), 6: held.filter((a) => a.family === 6) };
    const out: AssignResult = { ipv4: [], ipv6: [], existing: held.length > 0 };
    for (const family of [4, 6] as const) {
      const want = family === 4 ? req.numIpv4 : req.numIpv6;
      const list = family === 4 ? out.ipv4 : out.ipv6;
      for (const a of have[family].slice(0, want)) list.push(singleCidr(family, a.address));
      const missing = want - list.length;
      if (missing <= 0) continue;
      const pools = this.poolsFor(family, req.node, family === 4 ? req.ipv4Pools : req.ipv6Pools, { use: req.use, namespaceLabels: req.namespaceLabels });
      const attrs = JSON.stringify({ ...req.attributes, node: req.node, timestamp: new Date(this.now()).toISOString() });
      for (const address of this.assignFromPools(tx, family, req.node, req.handle, attrs, missing, pools)) list.push(singleCidr(family, address));
    }
    return out;
  }

  private assignFromPools(tx: Tx, family: IPFamily, node: string, handle: string, attrs: string, count: number, pools: readonly PoolInfo[]): string[] {
    const got: string[] = [];
    const poolCidrs = new Set(pools.map((p) => p.cidr.canonical));
    const settings = this.settings();
    const reserved = this.opts.view.reservations();
    // 1. The node's own blocks with room in the allowed pools (reserved addresses skipped).
    for (const b of this.s.roomyBlocksOfNode.all(node, family)) {
      if (got.length === count) break;
      if (!poolCidrs.has(b.pool_cidr)) continue;
      got.push(...this.takeFrom(b, count - got.length, handle, node, attrs, reserved));
    }
    if (got.length === count) return got;
    while (got.length < count) {
      // 2. Claim a new block, unless the node holds as many as it may (0 = the built-in 20).
      const held = this.s.countNodeBlocks.get(node, family)?.n ?? 0;
      const limit = blockLimit(settings);
      if (held >= limit) {
        throw new ServiceError(
          'resource-exhausted',
          `Assigned ${got.length} out of ${count} requested ${familyName(family)} addresses; cannot allocate new block due to per host block limit (${limit} blocks on node ${node})`,
        );
      }
      // With autoAllocateBlocks false no block is claimed: borrowing only.
      const claimed = settings.autoAllocateBlocks ? this.claimFreeBlock(tx, family, node, pools, reserved) : undefined;
      if (claimed) {
        got.push(...this.takeFrom(claimed, count - got.length, handle, node, attrs, reserved));
        continue;
      }
      // 3. Borrow from any block with room, unless affinity is strict.
      if (settings.strictAffinity) {
        throw new ServiceError(
          'resource-exhausted',
          `Assigned ${got.length} out of ${count} requested ${familyName(family)} addresses; No more free affine blocks and strict affinity enabled`,
        );
      }
      let borrowed = false;
      for (const p of pools) {
        // Without reservations the first block with room has a free address; with them, the
        // first whose free addresses are not all reserved.
        const candidates = reserved.empty ? [this.s.blockWithRoom.get(p.cidr.canonical)].filter((b) => b !== undefined) : this.s.blocksWithRoom.all(p.cidr.canonical);
        for (const b of candidates) {
          const taken = this.takeFrom(b, count - got.length, handle, node, attrs, reserved);
          if (taken.length === 0) continue;
          got.push(...taken);
          borrowed = true;
          break;
        }
        if (borrowed) break;
      }
      if (!borrowed) {
        throw new ServiceError(
          'resource-exhausted',
          `Assigned ${got.length} out of ${count} requested ${familyName(family)} addresses; No IPs available in pools: [${pools.map((p) => p.cidr.canonical).join(' ')}]`,
        );
      }
    }
    return got;
  }

  /** Takes up to `n` addresses from a block, in its free-list order, skipping reserved ones. */
  private takeFrom(b: BlockDbRow, n: number, handle: string, node: string, attrs: string, reserved: Reservations): string[] {
    const cidr = parseCIDR(b.cidr) as ParsedCIDR;
    const skip = reserved.ordinalsIn(cidr);
    if (skip) return this.takeSkipping(b, cidr, n, handle, node, attrs, skip);
    const free = b.free_list;
    const take = Math.min(n, free.length / 4, b.size - b.in_use);
    const out: string[] = [];
    const now = this.now();
    for (let i = 0; i < take; i++) {
      const ordinal = free.readUInt32LE(i * 4);
      const address = addressOf(cidr, ordinal);
      this.s.insertAllocation.run(address, b.cidr, ordinal, b.family, handle, node, attrs, now);
      out.push(address);
    }
    this.s.updateBlockUse.run(b.in_use + take, free.subarray(take * 4), b.cidr);
    return out;
  }

  /** {@link takeFrom} for a block with reserved addresses: they stay in the free list, in place. */
  private takeSkipping(b: BlockDbRow, cidr: ParsedCIDR, n: number, handle: string, node: string, attrs: string, skip: ReadonlySet<number>): string[] {
    const free = b.free_list;
    const kept: number[] = [];
    const out: string[] = [];
    const now = this.now();
    for (let i = 0; i < free.length; i += 4) {
      const ordinal = free.readUInt32LE(i);
      if (out.length >= n || skip.has(ordinal)) {
        kept.push(ordinal);
        continue;
      }
      const address = addressOf(cidr, ordinal);
      this.s.insertAllocation.run(address, b.cidr, ordinal, b.family, handle, node, attrs, now);
      out.push(address);
    }
    if (out.length === 0) return out;
    const rest = Buffer.allocUnsafe(kept.length * 4);
    kept.forEach((o, i) => rest.writeUInt32LE(o, i * 4));
    this.s.updateBlockUse.run(b.in_use + out.length, rest, b.cidr);
    return out;
  }

  /**
   * Walks a pool's blocks from the node's pseudo-random start and claims the first that does
   * not exist and is not wholly reserved.
   */
  private claimFreeBlock(tx: Tx, family: IPFamily, node: string, pools: readonly PoolInfo[], reserved: Reservations): BlockDbRow | undefined {
    for (const pool of pools) {
      if (pool.blockSize < pool.cidr.prefix) continue;
      const nBlocks = 1n << BigInt(pool.blockSize - pool.cidr.prefix);
      const step = 1n << BigInt(HOST_BITS[family] - pool.blockSize);
      const start = BigInt(fnv32a(node)) % nBlocks;
      // At most `taken` candidates exist, so a probe per step finds a free one within taken + 1
      // steps. Counting them reads every block of the pool: only once the walk gets long (a
      // full pool), not for every claim.
      for (let i = 0n; i < nBlocks; i++) {
        if (i === CLAIM_WALK_BEFORE_COUNT && BigInt(this.s.countPoolBlocks.get(pool.cidr.canonical)?.n ?? 0) >= nBlocks) break;
        const index = (start + i) % nBlocks;
        const cidr = `${formatIP(family, pool.cidr.network + index * step)}/${pool.blockSize}`;
        if (this.s.blockExists.get(cidr)) continue;
        if (!reserved.empty && reserved.covers(parseCIDR(cidr) as ParsedCIDR)) continue;
        const size = Number(step);
        const row: BlockDbRow = { cidr, family, pool_cidr: pool.cidr.canonical, node, size, in_use: 0, free_list: freeListOf(size) };
        this.s.insertBlock.run(cidr, family, row.pool_cidr, node, size, 0, row.free_list);
        this.record(tx, BlockEventType.BLOCK_EVENT_TYPE_CLAIMED, rowToBlock(row));
        return row;
      }
    }
    return undefined;
  }

  /** One specific address (Calico's AssignIP). */
  assignIP(tx: Tx, address: string, handle: string, node: string, attributes: Readonly<Record<string, string>> = {}): string {
    const ip = parseIP(address.replace(/\/(32|128)$/, ''));
    if (!ip) throw new ServiceError('invalid-argument', `${address} is not an IP address`);
    if (!handle) throw new ServiceError('invalid-argument', 'handle must be given');
    const pool = this.opts.view.pools().find((p) => !p.disabled && cidrContains(p.cidr, ip));
    if (!pool) throw new ServiceError('failed-precondition', `The provided IP address ${ip.text} is not in a configured pool`);
    const blockCidr = parseCIDR(`${ip.text}/${pool.blockSize}`) as ParsedCIDR;
    let b = this.s.block.get(blockCidr.canonical);
    if (!b) {
      const size = Number(cidrSize(blockCidr));
      b = { cidr: blockCidr.canonical, family: ip.family, pool_cidr: pool.cidr.canonical, node, size, in_use: 0, free_list: freeListOf(size) };
      this.s.insertBlock.run(b.cidr, b.family, b.pool_cidr, node, size, 0, b.free_list);
      this.record(tx, BlockEventType.BLOCK_EVENT_TYPE_CLAIMED, rowToBlock(b));
    } else if (this.settings().strictAffinity && b.node !== node) {
      throw new ServiceError('failed-precondition', `Block host affinity does not match: ${b.cidr} belongs to ${b.node ?? 'no node'}`);
    }
    const ordinal = Number(ip.value - blockCidr.network);
    const free = b.free_list;
    let at = -1;
    for (let i = 0; i < free.length; i += 4) {
      if (free.readUInt32LE(i) === ordinal) {
        at = i;
        break;
      }
    }
    if (at < 0) throw new ServiceError('already-exists', `Address already assigned in block: ${ip.text} in ${b.cidr}`);
    const rest = Buffer.concat([free.subarray(0, at), free.subarray(at + 4)]);
    this.s.insertAllocation.run(ip.text, b.cidr, ordinal, ip.family, handle, node, JSON.stringify({ ...attributes, node, timestamp: new Date(this.now()).toISOString() }), this.now());
    this.s.updateBlockUse.run(b.in_use + 1, rest, b.cidr);
    return singleCidr(ip.family, ip.text);
  }

  // ---- release ----

  /** Releases addresses; returns those released and those that were not allocated (or not to `handle`). */
  releaseIPs(tx: Tx, addresses: readonly string[], handle = ''): { released: string[]; unallocated: string[] } {
    const released: string[] = [];
    const unallocated: string[] = [];
    for (const text of addresses) {
      const ip = parseIP(text.replace(/\/(32|128)$/, ''));
      if (!ip) throw new ServiceError('invalid-argument', `${text} is not an IP address`);
      const a = this.s.allocation.get(ip.text);
      if (!a || (handle && a.handle !== handle)) {
        unallocated.push(ip.text);
        continue;
      }
      this.releaseOne(tx, a);
      released.push(ip.text);
    }
    return { released, unallocated };
  }

  releaseByHandle(tx: Tx, handle: string): string[] {
    const all = this.s.allocationsOfHandle.all(handle);
    for (const a of all) this.releaseOne(tx, a);
    return all.map((a) => a.address);
  }

  private releaseOne(tx: Tx, a: AllocationDbRow): void {
    this.s.deleteAllocation.run(a.address);
    const b = this.s.block.get(a.block);
    if (!b) return;
    if (b.in_use <= 1) {
      // The block's last address: release the block (and its affinity) back to the pool.
      this.s.deleteBlock.run(b.cidr);
      this.record(tx, BlockEventType.BLOCK_EVENT_TYPE_RELEASED, { ...rowToBlock(b), inUse: 0 });
      return;
    }
    const tail = Buffer.allocUnsafe(4);
    tail.writeUInt32LE(a.ordinal, 0);
    this.s.updateBlockUse.run(b.in_use - 1, Buffer.concat([b.free_list, tail]), b.cidr);
  }

  /** Releases the affinity of every block of a pool (the pool was deleted): empty blocks go, others stay without a node. */
  releasePoolAffinities(tx: Tx, poolCidr: string): number {
    let n = 0;
    for (const b of this.s.blocksOfPool.all(poolCidr)) {
      if (b.node === null) continue;
      this.releaseBlockAffinity(tx, b);
      n++;
    }
    return n;
  }

  /** Releases a node's blocks (the node is gone). */
  releaseNodeAffinities(tx: Tx, node: string): string[] {
    const out: string[] = [];
    for (const family of [4, 6] as const) {
      for (const b of this.s.blocksOfNode.all(node, family)) {
        this.releaseBlockAffinity(tx, b);
        out.push(b.cidr);
      }
    }
    return out;
  }

  /** Deletes those of the blocks that hold no address (garbage collection of a disabled or deleted pool's blocks). */
  releaseEmptyBlocks(tx: Tx, cidrs: readonly string[]): string[] {
    const out: string[] = [];
    for (const cidr of cidrs) {
      const b = this.s.block.get(cidr);
      if (!b || b.in_use !== 0) continue;
      this.s.deleteBlock.run(b.cidr);
      this.record(tx, BlockEventType.BLOCK_EVENT_TYPE_RELEASED, rowToBlock(b));
      out.push(b.cidr);
    }
    return out;
  }

  private releaseBlockAffinity(tx: Tx, b: BlockDbRow): void {
    if (b.in_use === 0) {
      this.s.deleteBlock.run(b.cidr);
      this.record(tx, BlockEventType.BLOCK_EVENT_TYPE_RELEASED, rowToBlock(b));
    } else {
      this.s.setBlockNode.run(null, b.cidr);
      this.record(tx, BlockEventType.BLOCK_EVENT_TYPE_AFFINITY_RELEASED, { ...rowToBlock(b), node: null });
    }
  }

  // ---- queries ----

  getAllocation(address: string): Allocation | undefined {
    const ip = parseIP(address.replace(/\/(32|128)$/, ''));
    if (!ip) throw new ServiceError('invalid-argument', `${address} is not an IP address`);
    const a = this.s.allocation.get(ip.text);
    return a ? toAllocation(a) : undefined;
  }

  allocationsOfHandle(handle: string): Allocation[] {
    return this.s.allocationsOfHandle.all(handle).map(toAllocation);
  }

  allocations(): Allocation[] {
    return this.s.allAllocations.all().map(toAllocation);
  }

  /**
   * Allocations to `node` (every node when empty) whose handle starts with `handlePrefix`
   * (every handle when empty), sorted by handle, family and address.
   */
  allocationsMatching(node: string, handlePrefix: string): Allocation[] {
    const rows =
      handlePrefix === ''
        ? this.s.allAllocationsByHandle.all()
        : this.s.allocationsOfHandleRange.all(handlePrefix, prefixEnd(handlePrefix));
    return rows.filter((a) => node === '' || a.node === node).map(toAllocation);
  }

  blocks(node?: string): BlockRow[] {
    const rows = node ? [...this.s.blocksOfNode.all(node, 4), ...this.s.blocksOfNode.all(node, 6)] : this.s.allBlocks.all();
    return rows.map(rowToBlock);
  }

  /** Addresses in each block allocated to another node than the block's (or to any, for a block without affinity). */
  borrowedCounts(): Map<string, number> {
    return new Map(this.s.borrowedByBlock.all().map((r) => [r.block, r.n]));
  }

  /** Addresses in use and blocks of a pool (cheap: no per-allocation work). */
  poolCounts(poolCidr: string): { inUse: number; blocks: number } {
    const u = this.s.poolUse.get(poolCidr);
    return { inUse: u?.inUse ?? 0, blocks: u?.blocks ?? 0 };
  }

  /** The pool's blocks, counted up to `atMost`. */
  poolBlocks(poolCidr: string, atMost: number): number {
    return this.s.poolBlocksUpTo.get(poolCidr, atMost)?.n ?? 0;
  }

  poolUse(poolCidr: string): { inUse: number; blocks: number; workloads: string[] } {
    const u = this.s.poolUse.get(poolCidr);
    const workloads = new Set<string>();
    for (const a of this.s.allocationsOfPool.all(poolCidr)) {
      const attrs = parseAttributes(a.attributes);
      workloads.add(attrs.namespace && attrs.pod ? `${attrs.namespace}/${attrs.pod}` : a.handle);
    }
    return { inUse: u?.inUse ?? 0, blocks: u?.blocks ?? 0, workloads: [...workloads].sort() };
  }
}

/** The least string greater than every string starting with `prefix` (its last character plus one). */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

export function parseAttributes(text: string): Record<string, string> {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, string>) : {};
  } catch {
    return {};
  }
}

function toAllocation(a: AllocationDbRow): Allocation {
  return {
    address: a.address,
    family: a.family as IPFamily,
    handle: a.handle,
    node: a.node,
    attributes: parseAttributes(a.attributes),
    block: a.block,
    blockNode: a.block_node,
    blockPoolCidr: a.block_pool_cidr,
    createdAt: a.created_at,
  };
}
