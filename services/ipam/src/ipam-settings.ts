import { DEFAULT_MAX_BLOCKS_PER_HOST, IPAM_CONFIGURATION_NAME, cidrSize, metaOf, parseIPOrCIDR, type IPFamily, type ParsedCIDR } from '@tabby/api';
import type { Resource } from '@tabby/proto';

/** Calico's IPAMConfig as IPAM runs it. */
export interface IpamSettings {
  /** Never borrow from another node's block. */
  readonly strictAffinity: boolean;
  /** Claim new blocks when the node's own are full; false: own blocks, then borrowing only. */
  readonly autoAllocateBlocks: boolean;
  /** Blocks one node may hold per family; 0 means the built-in limit ({@link DEFAULT_MAX_BLOCKS_PER_HOST}). */
  readonly maxBlocksPerHost: number;
}

/** tabby-ipam's --strict-affinity and --max-blocks-per-host: what runs while no IPAMConfiguration exists. */
export interface IpamFlagSettings {
  readonly strictAffinity?: boolean;
  readonly maxBlocksPerHost?: number;
}

/** The settings of the flags (Calico's defaults where a flag is not given). */
export function flagSettings(flags: IpamFlagSettings): IpamSettings {
  return { strictAffinity: flags.strictAffinity ?? false, autoAllocateBlocks: true, maxBlocksPerHost: flags.maxBlocksPerHost ?? 0 };
}

/** The number of blocks a node may hold: `maxBlocksPerHost`, or 20 when it is 0 (Calico's safeguard). */
export function blockLimit(s: IpamSettings): number {
  return s.maxBlocksPerHost > 0 ? s.maxBlocksPerHost : DEFAULT_MAX_BLOCKS_PER_HOST;
}

/** The settings of the IPAMConfiguration `default` in the store, or undefined for another resource. */
export function settingsOf(resource: Resource): IpamSettings | undefined {
  if (resource.kind?.$case !== 'ipamConfiguration' || metaOf(resource).name !== IPAM_CONFIGURATION_NAME) return undefined;
  const s = resource.kind.value.spec;
  return { strictAffinity: s?.strictAffinity ?? false, autoAllocateBlocks: s?.autoAllocateBlocks ?? true, maxBlocksPerHost: Math.max(0, s?.maxBlocksPerHost ?? 0) };
}

/** The reserved entries of an IPReservation, parsed (entries that do not parse are skipped: the store validates them). */
export function reservedCidrsOf(resource: Resource): ParsedCIDR[] {
  if (resource.kind?.$case !== 'ipReservation') return [];
  return (resource.kind.value.spec?.reservedCIDRs ?? []).map((t) => parseIPOrCIDR(t)).filter((c): c is ParsedCIDR => c !== undefined);
}

type Range = readonly [start: bigint, end: bigint];

/**
 * The addresses of every IPReservation, merged into sorted, disjoint ranges per family, so
 * that auto-assignment can skip reserved addresses and blocks entirely reserved cheaply
 * (Calico keeps reservations small; a lookup is a walk over the few ranges).
 */
export class Reservations {
  static readonly NONE = new Reservations([]);
  private readonly ranges: Record<IPFamily, Range[]> = { 4: [], 6: [] };

  constructor(cidrs: readonly ParsedCIDR[]) {
    for (const family of [4, 6] as const) {
      const sorted = cidrs
        .filter((c) => c.family === family)
        .map((c): Range => [c.network, c.network + cidrSize(c) - 1n])
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const merged: [bigint, bigint][] = [];
      for (const [s, e] of sorted) {
        const last = merged[merged.length - 1];
        if (last && s <= last[1] + 1n) last[1] = e > last[1] ? e : last[1];
        else merged.push([s, e]);
      }
      this.ranges[family] = merged;
    }
  }

  get empty(): boolean {
    return this.ranges[4].length === 0 && this.ranges[6].length === 0;
  }

  /** True when the address is reserved. */
  has(family: IPFamily, value: bigint): boolean {
    return this.ranges[family].some(([s, e]) => value >= s && value <= e);
  }

  /** Number of reserved addresses inside a network. */
  countIn(cidr: ParsedCIDR): bigint {
    const first = cidr.network;
    const last = first + cidrSize(cidr) - 1n;
    let n = 0n;
    for (const [s, e] of this.ranges[cidr.family]) {
      const lo = s > first ? s : first;
      const hi = e < last ? e : last;
      if (lo <= hi) n += hi - lo + 1n;
    }
    return n;
  }

  /** True when every address of the network is reserved (such a block is never claimed). */
  covers(cidr: ParsedCIDR): boolean {
    return this.countIn(cidr) === cidrSize(cidr);
  }

  /** The reserved ordinals of a block, or undefined when none of its addresses is reserved. */
  ordinalsIn(block: ParsedCIDR): ReadonlySet<number> | undefined {
    const first = block.network;
    const last = first + cidrSize(block) - 1n;
    let out: Set<number> | undefined;
    for (const [s, e] of this.ranges[block.family]) {
      const lo = s > first ? s : first;
      const hi = e < last ? e : last;
      for (let v = lo; v <= hi; v++) (out ??= new Set()).add(Number(v - first));
    }
    return out;
  }
}
