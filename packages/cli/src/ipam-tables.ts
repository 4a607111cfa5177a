/**
 * What `tabbyctl ipam show` prints, as calicoctl v3 prints it: the utilization table
 * (`GROUPING | CIDR | IPS TOTAL | IPS IN USE | IPS FREE`), one address's allocation, and
 * the borrowed-address table. Pure: responses in, text out.
 */
import type { Block, GetAllocationResponse, UtilizationResponse } from '@tabby/proto';
import { borderTable } from './border-table.js';
import { goFormat } from './go-format.js';

export const UTILIZATION_HEADER = ['GROUPING', 'CIDR', 'IPS TOTAL', 'IPS IN USE', 'IPS FREE'] as const;
export const BORROWED_HEADER = ['IP', 'BORROWING-NODE', 'BLOCK', 'BLOCK OWNER', 'TYPE', 'ALLOCATED-TO'] as const;

/**
 * One row of the utilization table, with calicoctl's arithmetic in float64: total `%.5g`,
 * in use and free `%.5g (%.f%%)` of the total, e.g. `65536`, `5 (0%)`, `65531 (100%)`.
 */
export function utilizationRow(grouping: string, cidr: string, inUse: number, capacity: number): string[] {
  const withPercent = (n: number): string => `${goFormat(n, 'g', 5)} (${goFormat((100 * n) / capacity, 'f', 0)}%)`;
  return [grouping, cidr, goFormat(capacity, 'g', 5), withPercent(inUse), withPercent(capacity - inUse)];
}

const blockRow = (b: Block): string[] => utilizationRow('Block', b.cidr, b.inUse, b.size);

/**
 * The `ipam show` table: an `IP Pool` row per pool in name order, with `showBlocks` each
 * pool's `Block` rows after it, then the blocks no pool contains (no pool row for them).
 */
export function utilizationTable(u: UtilizationResponse, showBlocks: boolean): string {
  const rows: string[][] = [];
  const pools = [...u.pools].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const p of pools) {
    rows.push(utilizationRow('IP Pool', p.cidr, Number(p.inUse), Number(p.total)));
    if (showBlocks) rows.push(...p.blocks.map(blockRow));
  }
  if (showBlocks) rows.push(...u.orphanedBlocks.map(blockRow));
  return borderTable(UTILIZATION_HEADER, rows);
}

/**
 * `ipam show --ip`: `IP <ip> is in use`, then `Attributes:` and `  key: value` lines
 * (sorted by key), or `No attributes defined`; `<ip> is not assigned` otherwise.
 */
export function allocationText(ip: string, a: GetAllocationResponse): string {
  if (!a.allocated) return `${ip} is not assigned\n`;
  const keys = Object.keys(a.attributes).sort();
  let out = `IP ${ip} is in use\n`;
  if (keys.length === 0) return `${out}No attributes defined\n`;
  out += 'Attributes:\n';
  for (const k of keys) out += `  ${k}: ${a.attributes[k]}\n`;
  return out;
}

/** One borrowed address: allocated to a node other than its block's (or from a block with no node). */
export interface BorrowedAddress {
  readonly address: string;
  readonly borrowingNode: string;
  readonly block: string;
  readonly blockOwner: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/**
 * `ipam show --show-borrowed`: TYPE is `pod` with ALLOCATED-TO `<namespace>/<pod>`, or the
 * allocation's `type` attribute (tunnel addresses). A footnote counts allocations that name
 * no node, which cannot be classified.
 */
export function borrowedTable(rows: readonly BorrowedAddress[], unclassified: number): string {
  const cells = rows.map((r) => {
    const pod = r.attributes.pod;
    const type = pod ? 'pod' : (r.attributes.type ?? '');
    const to = pod ? `${r.attributes.namespace ?? ''}/${pod}` : '';
    return [r.address, r.borrowingNode, r.block, r.blockOwner, type, to];
  });
  let out = borderTable(BORROWED_HEADER, cells);
  if (unclassified !== 0) out += `\nNote: found ${unclassified} IP allocations without an explicit node association. Unable to determine if they are borrowed.\n`;
  return out;
}
