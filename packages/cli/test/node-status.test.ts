/**
 * `node status` and `node routes` text: calicoctl's layout for the walkthrough's flow 4,
 * BIRD's SINCE format, staleness, and the routes table, against golden/node-status.txt
 * (UPDATE_GOLDEN=1 rewrites it after a review). Times are judged in UTC at a fixed now.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NodeStatus, Route, RoutePath, RoutesResponse } from '@tabby/proto';
import { birdTime, humanAge } from '../src/bird-time.js';
import { nodeStatusText, statusHealth } from '../src/node-status-text.js';
import { parseRouteFormat, renderRoutes } from '../src/route-table.js';
import { nodeStatus, peer } from './node-fixtures.js';

const NOW = new Date('2024-05-01T23:59:00Z');
const originalTZ = process.env.TZ;

beforeAll(() => {
  process.env.TZ = 'UTC';
});
afterEach(() => {
  process.env.TZ = 'UTC';
});
afterAll(() => {
  if (originalTZ === undefined) delete process.env.TZ;
  else process.env.TZ = originalTZ;
});

/** The walkthrough's flow 4: node1 with a mesh peer, a global peer and a node-specific peer. */
const FLOW4 = nodeStatus(
  'node1',
  '2024-05-01T23:58:50Z',
  [
    peer('172.17.8.102', 'node-to-node mesh', 'up', '2024-05-01T23:30:04Z', 'Established'),
    peer('10.20.30.40', 'global', 'start', '2024-05-01T16:28:38Z', 'Connect'),
    peer('192.10.0.0', 'node specific', 'start', '2024-05-01T16:28:57Z', 'Connect'),
  ],
  [peer('aa:bb::ff', 'node-to-node mesh', 'up', '2024-05-01T16:17:26Z', 'Established')],
);

const WALKTHROUGH_TABLES = `
IPv4 BGP status
+--------------+-------------------+-------+----------+-------------+
| PEER ADDRESS |     PEER TYPE     | STATE |  SINCE   |    INFO     |
+--------------+-------------------+-------+----------+-------------+
| 172.17.8.102 | node-to-node mesh | up    | 23:30:04 | Established |
| 10.20.30.40  | global            | start | 16:28:38 | Connect     |
| 192.10.0.0   | node specific     | start | 16:28:57 | Connect     |
+--------------+-------------------+-------+----------+-------------+

IPv6 BGP status
+--------------+-------------------+-------+----------+-------------+
| PEER ADDRESS |     PEER TYPE     | STATE |  SINCE   |    INFO     |
+--------------+-------------------+-------+----------+-------------+
| aa:bb::ff    | node-to-node mesh | up    | 16:17:26 | Established |
+--------------+-------------------+-------+----------+-------------+

`;

describe('birdTime', () => {
  it.each([
    ['2024-05-01T23:30:04Z', NOW, '23:30:04'],
    ['2024-05-01T04:00:00Z', NOW, '04:00:00'], // 19h59m ago
    ['2024-05-01T03:59:00Z', NOW, '2024-05-01'], // exactly 20 h ago: BIRD's limit is "less than 20 hours"
    ['2024-04-30T23:00:00Z', new Date('2024-05-01T08:00:00Z'), '23:00:00'], // yesterday, within 20 hours: BIRD prints the time
    ['2024-04-30T23:00:00Z', NOW, '2024-04-30'],
    ['2023-12-31T10:00:00Z', NOW, '2023-12-31'],
    ['2024-05-02T00:10:00Z', NOW, '00:10:00'], // a clock ahead of ours: still the time
  ])('%s seen at %s is %s', (since, now, want) => {
    expect(birdTime(new Date(since), now)).toBe(want);
  });

  it('prints in the local time zone', () => {
    process.env.TZ = 'Asia/Kolkata';
    expect(birdTime(new Date('2024-05-01T23:30:04Z'), NOW)).toBe('05:00:04');
    expect(birdTime(new Date('2024-04-20T20:00:00Z'), NOW)).toBe('2024-04-21');
  });
});

describe('humanAge', () => {
  it.each([
    [0, '0s'],
    [45_000, '45s'],
    [119_000, '119s'],
    [310_000, '5m10s'],
    [600_000, '10m'],
    [2 * 3600_000 + 5 * 60_000, '125m'],
    [5 * 3600_000 + 10 * 60_000, '5h10m'],
    [20 * 3600_000, '20h'],
    [3 * 86400_000 + 4 * 3600_000, '3d4h'],
    [12 * 86400_000, '12d'],
    [-5000, '0s'],
  ])('%d ms is %s', (ms, want) => {
    expect(humanAge(ms)).toBe(want);
  });
});

describe('statusHealth', () => {
  it('is running while the last report is within three periods and the agent is Ready', () => {
    expect(statusHealth(nodeStatus('n', '2024-05-01T23:57:31Z', [], []), NOW)).toEqual({ line: 'Tabby agent on n is running.', running: true });
    expect(statusHealth(nodeStatus('n', '2024-05-01T23:57:29Z', [], []), NOW).running).toBe(false);
    expect(statusHealth(nodeStatus('n', '2024-05-01T23:50:00Z', [], [], { period: 300 }), NOW).running).toBe(true);
  });
  it('takes the agent default period (30 s) when the status names none', () => {
    expect(statusHealth(nodeStatus('n', '2024-05-01T23:57:29Z', [], [], { period: 0 }), NOW).line).toBe('Tabby agent on n last reported 91s ago (it reports every 30s): status is stale.');
  });
  it('is not running when the agent said NotReady (it does on SIGTERM)', () => {
    expect(statusHealth(nodeStatus('n', '2024-05-01T23:58:55Z', [], [], { state: 'NotReady' }), NOW)).toEqual({
      line: 'Tabby agent on n is not running: it reported NotReady 5s ago.',
      running: false,
    });
  });
  it('does not vouch for a report without a time', () => {
    expect(statusHealth(nodeStatus('n', '', [], []), NOW)).toEqual({ line: 'Tabby agent on n has not said when it reported: status may be stale.', running: false });
  });
});

const path = (fromPeer: string, nextHop: string, asPath: number[], best: boolean, extra: Partial<RoutePath> = {}): RoutePath => ({
  fromPeer,
  nextHop,
  asPath,
  origin: 'IGP',
  localPref: 100,
  originatorId: '',
  clusterList: [],
  communities: [],
  best,
  ...extra,
});
const route = (prefix: string, reason: string, paths: RoutePath[], local = false): Route => ({ prefix, family: prefix.includes(':') ? 'ipv6' : 'ipv4', reason, paths, local });

const RIB: RoutesResponse = {
  node: 'node1',
  routes: [
    route('fd00:10::a40/122', 'only-path', [path('aa:bb::ff', 'aa:bb::ff', [64514], true)]),
    route('192.168.7.0/26', 'lower-router-id', [
      path('127.0.0.13', '127.0.0.12', [], false, { originatorId: '127.0.0.12', clusterList: ['224.0.0.1'] }),
      path('127.0.0.12', '127.0.0.12', [], true, { med: 0, communities: ['64512:100'] }),
    ]),
    route('10.0.24.0/26', 'local', [path('', '', [], true)], true),
    route('192.168.52.128/26', 'shorter-as-path', [path('10.20.30.40', '10.20.30.40', [64567, 65001], false), path('127.0.0.12', '127.0.0.12', [], true)]),
    route('9.0.0.0/8', 'only-path', [path('10.20.30.40', '10.20.30.40', [64567], true, { origin: 'INCOMPLETE', localPref: 200 })]),
  ],
};

describe('golden/node-status.txt', () => {
  it('matches, and flow 4 prints the walkthrough tables exactly', () => {
    const flow4 = nodeStatusText(FLOW4, NOW);
    expect(flow4.text).toBe(`Tabby agent on node1 is running.\n${WALKTHROUGH_TABLES}`);
    expect(flow4.running).toBe(true);

    const cases: [string, NodeStatus][] = [
      ['flow 4 (walkthrough)', FLOW4],
      ['stale: last report 5 minutes ago, older SINCE as a date', nodeStatus('node2', '2024-05-01T23:54:00Z', [peer('172.17.8.101', 'node-to-node mesh', 'up', '2024-04-28T10:00:00Z', 'Established')], [])],
      ['IPv6 only', nodeStatus('node3', '2024-05-01T23:58:59Z', [], [peer('fd00::1', 'global', 'start', '2024-05-01T23:58:00Z', 'Active Socket: Connection refused', { port: 1790 })])],
      ['no peers', nodeStatus('node4', '2024-05-01T23:58:59Z', [], [])],
      ['NotReady (the agent stopped)', nodeStatus('node5', '2024-05-01T23:58:30Z', [peer('127.0.0.12', 'node-to-node mesh', 'down', '2024-05-01T23:58:30Z', 'Idle')], [], { state: 'NotReady' })],
      [
        'a long INFO wraps at 30 columns, as tablewriter does',
        nodeStatus('node6', '2024-05-01T23:58:59Z', [peer('127.0.0.20', 'node specific', 'start', 'not a time', 'Idle BGP Error: Bad BGP identifier (received 127.0.0.20 from a peer that claims it too)')], []),
      ],
    ];
    const linux = nodeStatus('node7', '2024-05-01T23:58:59Z', [peer('198.18.0.12', 'node-to-node mesh', 'up', '2024-05-01T23:50:00Z', 'Established')], []);
    if (linux.status)
      linux.status.routes = {
        dataplane: 'linux table 254 proto 84',
        programmed: 5,
        blackholes: 1,
        workloads: 2,
        remote: 2,
        lastReconcileTime: '2024-05-01T23:58:58Z',
        failures: [{ prefix: '198.19.9.0/26', error: 'Error: Nexthop has invalid gateway.' }],
        waitingForInterface: ['default/web-3 (cali1b2c3d4e5f6)'],
        converging: true,
        borrowed: ['198.19.0.70/32'],
      };
    cases.push(['--dataplane linux: the routes section', linux]);
    let out = '';
    for (const [title, ns] of cases) out += `== ${title}\n${nodeStatusText(ns, NOW).text}`;
    out += `== node routes\n${renderRoutes(RIB, 'ps')}`;
    out += `== node routes -o wide\n${renderRoutes(RIB, 'wide')}`;
    out += `== node routes, none\n${renderRoutes({ node: 'node1', routes: [] }, 'ps')}`;
    out += `== node routes -o yaml\n${renderRoutes({ node: 'node1', routes: RIB.routes.slice(1, 3) }, 'yaml')}`;
    const golden = new URL('./golden/node-status.txt', import.meta.url);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, out);
    expect(existsSync(golden), 'golden/node-status.txt is missing: run with UPDATE_GOLDEN=1 and review it').toBe(true);
    expect(out).toBe(readFileSync(golden, 'utf8'));
  });

  it('prints JSON with every field present', () => {
    const json = JSON.parse(renderRoutes(RIB, 'json')) as { node: string; routes: { prefix: string; paths: { best: boolean; fromPeer: string }[] }[] };
    expect(json.node).toBe('node1');
    expect(json.routes.map((r) => r.prefix)).toEqual(['9.0.0.0/8', '10.0.24.0/26', '192.168.7.0/26', '192.168.52.128/26', 'fd00:10::a40/122']);
    expect(json.routes[2].paths.map((p) => [p.best, p.fromPeer])).toEqual([
      [true, '127.0.0.12'],
      [false, '127.0.0.13'],
    ]);
  });

  it('names the formats it knows', () => {
    expect(parseRouteFormat(undefined)).toBe('ps');
    expect(parseRouteFormat('yml')).toBe('yaml');
    expect(() => parseRouteFormat('name')).toThrow("unrecognized output format 'name' (use one of: ps, wide, json, yaml)");
  });
});
