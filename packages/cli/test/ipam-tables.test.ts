/**
 * `ipam show` output: calicoctl's bordered table (olekukonko/tablewriter defaults), the
 * number formats, the --ip text and the borrowed table. Exact text is in
 * golden/ipam-show.txt (UPDATE_GOLDEN=1 rewrites it after a review).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Block, PoolUtilization, UtilizationResponse } from '@tabby/proto';
import { borderTable } from '../src/border-table.js';
import { allocationText, borrowedTable, utilizationRow, utilizationTable } from '../src/ipam-tables.js';

const block = (cidr: string, node: string, pool: string, size: number, inUse: number, borrowed = 0): Block => ({ cidr, node, pool, size, inUse, borrowed });
const pool = (name: string, cidr: string, total: bigint, inUse: number, blocks: Block[], disabled = false): PoolUtilization => ({
  name,
  cidr,
  total: total.toString(),
  inUse: String(inUse),
  free: (total - BigInt(inUse)).toString(),
  disabled,
  blocks,
});

const CLUSTER: UtilizationResponse = {
  pools: [
    pool('new-pool', '10.0.0.0/16', 65536n, 1, [block('10.0.24.0/26', 'vagrant', 'new-pool', 64, 1)]),
    pool('default-ipv4-ippool', '192.168.0.0/16', 65536n, 5, [block('192.168.52.128/26', 'vagrant', 'default-ipv4-ippool', 64, 3), block('192.168.7.0/26', 'node2', 'default-ipv4-ippool', 64, 2, 1)], true),
    pool('v6-pool', 'fd00:10::/48', 2n ** 80n, 2, [block('fd00:10::a40/122', 'vagrant', 'v6-pool', 64, 2)]),
    pool('empty', '172.16.0.0/24', 256n, 0, []),
  ],
  orphanedBlocks: [block('10.1.0.0/26', '', '', 64, 3, 3)],
};

describe('utilizationRow', () => {
  it('formats as calicoctl: %.5g totals, %.5g (%.f%%) use', () => {
    expect(utilizationRow('IP Pool', '192.168.0.0/16', 5, 65536)).toEqual(['IP Pool', '192.168.0.0/16', '65536', '5 (0%)', '65531 (100%)']);
    expect(utilizationRow('IP Pool', 'fd00:10::/48', 2, 2 ** 80)).toEqual(['IP Pool', 'fd00:10::/48', '1.2089e+24', '2 (0%)', '1.2089e+24 (100%)']);
    expect(utilizationRow('Block', '10.0.0.0/26', 32, 64)).toEqual(['Block', '10.0.0.0/26', '64', '32 (50%)', '32 (50%)']);
    // 12.5% rounds to even, as Go's %.f does
    expect(utilizationRow('Block', '10.0.0.0/29', 1, 8)).toEqual(['Block', '10.0.0.0/29', '8', '1 (12%)', '7 (88%)']);
  });
});

describe('utilizationTable', () => {
  it('prints the table calicoctl documents', () => {
    const one: UtilizationResponse = { pools: [pool('default-ipv4-ippool', '10.0.0.0/16', 65536n, 5, [])], orphanedBlocks: [] };
    expect(utilizationTable(one, false)).toBe(
      [
        '+----------+-------------+-----------+------------+--------------+',
        '| GROUPING |    CIDR     | IPS TOTAL | IPS IN USE |   IPS FREE   |',
        '+----------+-------------+-----------+------------+--------------+',
        '| IP Pool  | 10.0.0.0/16 |     65536 | 5 (0%)     | 65531 (100%) |',
        '+----------+-------------+-----------+------------+--------------+',
        '',
      ].join('\n'),
    );
  });

  it('matches golden/ipam-show.txt', () => {
    let out = '';
    out += '== ipam show (pools in name order)\n' + utilizationTable(CLUSTER, false);
    out += '== ipam show --show-blocks (orphaned blocks last, without a pool row)\n' + utilizationTable(CLUSTER, true);
    out += '== ipam show, no pools\n' + utilizationTable({ pools: [], orphanedBlocks: [] }, true);
    out += '== ipam show --ip, in use\n';
    out += allocationText('192.168.52.130', {
      allocated: true,
      address: '192.168.52.130',
      handle: 'workload:kube-system/kube-dns-6f4fd4bdf-8q7zp',
      attributes: { pod: 'kube-dns-6f4fd4bdf-8q7zp', namespace: 'kube-system', node: 'vagrant', timestamp: '2026-01-02T03:04:05.000Z' },
      block: '192.168.52.128/26',
      blockNode: 'vagrant',
      pool: 'default-ipv4-ippool',
      borrowed: false,
    });
    out += '== ipam show --ip, no attributes\n';
    out += allocationText('10.0.0.1', { allocated: true, address: '10.0.0.1', handle: 'h', attributes: {}, block: '10.0.0.0/26', blockNode: 'n', pool: 'p', borrowed: false });
    out += '== ipam show --ip, free\n';
    out += allocationText('10.0.0.2', { allocated: false, address: '10.0.0.2', handle: '', attributes: {}, block: '', blockNode: '', pool: '', borrowed: false });
    out += '== ipam show --show-borrowed\n';
    out += borrowedTable(
      [
        { address: '192.168.7.5', borrowingNode: 'vagrant', block: '192.168.7.0/26', blockOwner: 'node2', attributes: { namespace: 'default', pod: 'web-1', node: 'vagrant' } },
        { address: '10.1.0.1', borrowingNode: 'node3', block: '10.1.0.0/26', blockOwner: '', attributes: { type: 'ipipTunnelAddress', node: 'node3' } },
      ],
      2,
    );
    out += '== ipam show --show-borrowed, none\n' + borrowedTable([], 0);
    const golden = new URL('./golden/ipam-show.txt', import.meta.url);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, out);
    expect(existsSync(golden), 'golden/ipam-show.txt is missing: run with UPDATE_GOLDEN=1 and review it').toBe(true);
    expect(out).toBe(readFileSync(golden, 'utf8'));
  });
});

describe('borderTable (tablewriter defaults)', () => {
  it('centres headings (extra space on the right) and right-aligns decimal numbers only', () => {
    expect(borderTable(['A', 'NUMBER'], [['x', '1,234.5'], ['long cell', '1e+05']])).toBe(
      ['+-----------+---------+', '|     A     | NUMBER  |', '+-----------+---------+', '| x         | 1,234.5 |', '| long cell | 1e+05   |', '+-----------+---------+', ''].join('\n'),
    );
  });

  it('wraps cells wider than 30 at spaces with minimal raggedness; the column keeps width 30', () => {
    const text = 'Active Socket: Connection refused by the remote peer';
    const out = borderTable(['INFO'], [[text]]);
    const lines = out.split('\n');
    expect(lines[0]).toBe(`+${'-'.repeat(32)}+`);
    expect(lines.slice(3, -2).map((l) => l.slice(2, -2).trimEnd())).toEqual(['Active Socket: Connection', 'refused by the remote peer']);
  });

  it('keeps a single long word whole', () => {
    const v6 = 'fd00:1234:5678:9abc:def0:1234:5678:9a00/120';
    expect(borderTable(['CIDR'], [[v6]]).split('\n')[3]).toBe(`| ${v6} |`);
  });

  it('sanitizes cells', () => {
    expect(borderTable(['A'], [['x\ty']]).split('\n')[3]).toBe('| x y |');
  });
});
