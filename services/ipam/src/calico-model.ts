import { formatIP, parseCIDR, type IPFamily, type ParsedCIDR } from '@tabby/api';

/**
 * Calico's IPAM objects as it stores them in etcd v3 (libcalico-go lib/backend/model:
 * block.go, block_affinity.go, ipam_handle.go, ipam_config.go), and the keys they live at.
 * Pure: no I/O.
 */

export const IPAM_PREFIX = '/calico/ipam/v2/';
export const IPAM_CONFIG_KEY = '/calico/ipam/v2/config';
/**
 * Tabby's dense block revision (a JSON number), raised by every change that claims or releases a
 * block, in the same transaction: block events carry it and followers spot a lost one by a gap.
 * Under Calico's prefix so that one watch sees it in step with the blocks.
 */
export const BLOCK_REVISION_KEY = '/calico/ipam/v2/tabby/blockRevision';
/** Tabby's own records beside Calico's: the workload journal and live ipam processes. */
export const TABBY_IPAM_PREFIX = '/tabby/ipam/v1/';

const ipv = (family: IPFamily): string => (family === 4 ? 'ipv4' : 'ipv6');
/** A CIDR in a key: its `/` becomes `-` (Calico's layout). */
const keyCidr = (cidr: string): string => cidr.replace('/', '-');

export const blockKey = (cidr: ParsedCIDR): string => `${IPAM_PREFIX}assignment/${ipv(cidr.family)}/block/${keyCidr(cidr.canonical)}`;
export const blockPrefix = `${IPAM_PREFIX}assignment/`;
export const affinityKey = (node: string, cidr: ParsedCIDR): string => `${IPAM_PREFIX}host/${node}/${ipv(cidr.family)}/block/${keyCidr(cidr.canonical)}`;
export const affinityPrefix = (node: string, family: IPFamily): string => `${IPAM_PREFIX}host/${node}/${ipv(family)}/block/`;
export const handleKey = (handle: string): string => `${IPAM_PREFIX}handle/${handle}`;
export const intentPrefix = `${TABBY_IPAM_PREFIX}intent/`;
export const intentKey = (handle: string): string => `${intentPrefix}${handle}`;
export const instancePrefix = `${TABBY_IPAM_PREFIX}instance/`;
export const instanceKey = (id: string): string => `${instancePrefix}${id}`;

/** The CIDR of a block or affinity key (`.../block/10.244.1.0-26`). */
export function cidrOfKey(key: string): ParsedCIDR | undefined {
  const m = /\/block\/([^/]+)$/.exec(key);
  if (!m) return undefined;
  const i = m[1].lastIndexOf('-');
  return i < 0 ? undefined : parseCIDR(`${m[1].slice(0, i)}/${m[1].slice(i + 1)}`);
}

/** AllocationAttribute: `handle_id` and `secondary` (namespace, pod, node, timestamp, …). */
export interface CalicoAttribute {
  handle_id?: string;
  secondary?: Record<string, string>;
}

/** AllocationBlock (block.go). `allocations[ordinal]` is an index into `attributes`, or null when free. */
export interface CalicoBlock {
  cidr: string;
  /** `host:<node>`, or null once the block has no affinity. */
  affinity: string | null;
  strictAffinity: boolean;
  allocations: (number | null)[];
  unallocated: number[];
  attributes: CalicoAttribute[];
  deleted: boolean;
  sequenceNumber: number;
  sequenceNumberForAllocation: Record<string, number>;
}

/** BlockAffinity (block_affinity.go): `state` pending | confirmed | pendingDeletion. */
export interface CalicoAffinity {
  state: 'pending' | 'confirmed' | 'pendingDeletion';
  deleted: boolean;
}

/** IPAMHandle (ipam_handle.go): addresses the handle holds per block CIDR. */
export interface CalicoHandle {
  handleID: string;
  block: Record<string, number>;
  deleted: boolean;
}

/** IPAMConfig (ipam_config.go). */
export interface CalicoIpamConfig {
  strict_affinity: boolean;
  auto_allocate_blocks: boolean;
  maxBlocksPerHost: number;
}

export function newBlock(cidr: ParsedCIDR, size: number, node: string | null): CalicoBlock {
  return {
    cidr: cidr.canonical,
    affinity: node === null ? null : `host:${node}`,
    strictAffinity: false,
    allocations: new Array<number | null>(size).fill(null),
    unallocated: Array.from({ length: size }, (_, i) => i),
    attributes: [],
    deleted: false,
    sequenceNumber: 0,
    sequenceNumberForAllocation: {},
  };
}

/** The node of a block's `host:<node>` affinity, or null. */
export function blockNode(b: CalicoBlock): string | null {
  return b.affinity?.startsWith('host:') ? b.affinity.slice(5) : null;
}

/** True when the block has a free ordinal outside `skip` (the reserved ones). */
export function hasFree(b: CalicoBlock, skip?: ReadonlySet<number>): boolean {
  return skip ? b.unallocated.some((o) => !skip.has(o)) : b.unallocated.length > 0;
}

export function inUse(b: CalicoBlock): number {
  return b.allocations.length - b.unallocated.length;
}

/** Parses a stored block, refusing what is not one (a clear error, never a silent half-read). */
export function parseBlock(key: string, text: string): CalicoBlock {
  const v = JSON.parse(text) as Partial<CalicoBlock>;
  if (typeof v.cidr !== 'string' || !Array.isArray(v.allocations) || !Array.isArray(v.unallocated)) {
    throw new Error(`etcd key ${key} does not hold a Calico AllocationBlock`);
  }
  return {
    cidr: v.cidr,
    affinity: v.affinity ?? null,
    strictAffinity: v.strictAffinity ?? false,
    allocations: v.allocations,
    unallocated: v.unallocated,
    attributes: v.attributes ?? [],
    deleted: v.deleted ?? false,
    sequenceNumber: v.sequenceNumber ?? 0,
    sequenceNumberForAllocation: v.sequenceNumberForAllocation ?? {},
  };
}

export function addressOfOrdinal(cidr: ParsedCIDR, ordinal: number): string {
  return formatIP(cidr.family, cidr.network + BigInt(ordinal));
}

function attributeIndex(b: CalicoBlock, handle: string, secondary: Record<string, string>): number {
  const text = JSON.stringify(secondary);
  const i = b.attributes.findIndex((a) => a.handle_id === handle && JSON.stringify(a.secondary ?? {}) === text);
  if (i >= 0) return i;
  b.attributes.push({ handle_id: handle, secondary });
  return b.attributes.length - 1;
}

/** Allocates up to `n` free ordinals in free-list order, never one in `skip` (reserved); returns them. */
export function allocate(b: CalicoBlock, n: number, handle: string, secondary: Record<string, string>, skip?: ReadonlySet<number>): number[] {
  let take: number[];
  if (skip) {
    take = [];
    const kept: number[] = [];
    for (const o of b.unallocated) (take.length < n && !skip.has(o) ? take : kept).push(o);
    b.unallocated = kept;
  } else {
    take = b.unallocated.splice(0, Math.min(n, b.unallocated.length));
  }
  if (take.length === 0) return take;
  const attr = attributeIndex(b, handle, secondary);
  b.sequenceNumber++;
  for (const ordinal of take) {
    b.allocations[ordinal] = attr;
    b.sequenceNumberForAllocation[String(ordinal)] = b.sequenceNumber;
  }
  return take;
}

/** Allocates one given ordinal; false if it is taken. */
export function allocateOrdinal(b: CalicoBlock, ordinal: number, handle: string, secondary: Record<string, string>): boolean {
  const at = b.unallocated.indexOf(ordinal);
  if (at < 0) return false;
  b.unallocated.splice(at, 1);
  b.sequenceNumber++;
  b.allocations[ordinal] = attributeIndex(b, handle, secondary);
  b.sequenceNumberForAllocation[String(ordinal)] = b.sequenceNumber;
  return true;
}

/** Frees ordinals (released ones go to the end of the free list, as Calico) and drops unused attributes. */
export function release(b: CalicoBlock, ordinals: readonly number[]): void {
  for (const ordinal of ordinals) {
    if (b.allocations[ordinal] === null) continue;
    b.allocations[ordinal] = null;
    b.unallocated.push(ordinal);
    delete b.sequenceNumberForAllocation[String(ordinal)];
  }
  b.sequenceNumber++;
  // Renumber the attributes still referenced.
  const used = [...new Set(b.allocations.filter((a): a is number => a !== null))].sort((x, y) => x - y);
  const remap = new Map(used.map((old, i) => [old, i]));
  b.attributes = used.map((i) => b.attributes[i]);
  b.allocations = b.allocations.map((a) => (a === null ? null : (remap.get(a) ?? null)));
}

/** The ordinals of a block allocated to `handle`. */
export function ordinalsOfHandle(b: CalicoBlock, handle: string): number[] {
  const out: number[] = [];
  b.allocations.forEach((a, ordinal) => {
    if (a !== null && b.attributes[a]?.handle_id === handle) out.push(ordinal);
  });
  return out;
}
