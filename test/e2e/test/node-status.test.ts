/**
 * `tabbyctl node status` through the real binary against a real tabby-store holding
 * NodeStatus resources as agents write them: the walkthrough's flow 4 layout, a stale
 * report, IPv6 only, no peers, a stopped agent, missing statuses and nodes, --all, and a
 * store that is down. Time is fixed (TZ=UTC, TABBYCTL_NOW) so SINCE and ages are stable.
 * Compared with golden/node-status.txt (UPDATE_GOLDEN=1 rewrites it).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessGroup, startService, tempDir } from '@tabby/harness';
import { Transcript, tabbyctl } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-node-status-');
const NOW = '2024-05-01T23:59:00Z';
let store: string;
let t: Transcript;

interface Peer {
  readonly ip: string;
  readonly type: string;
  readonly state: string;
  readonly since: string;
  readonly info: string;
  readonly port?: number;
}

/** A NodeStatus manifest as tabby-agent writes it (every 30 s and on every change). */
function nodeStatus(node: string, lastUpdated: string, v4: Peer[], v6: Peer[], agentState = 'Ready'): string {
  const peers = (list: Peer[]): string =>
    list.length === 0
      ? ' []\n'
      : `\n${list.map((p) => `    - {peerIP: "${p.ip}", type: ${p.type}, state: ${p.state}, since: "${p.since}", info: "${p.info}", port: ${p.port ?? 179}}\n`).join('')}`;
  const up = (list: Peer[]): number => list.filter((p) => p.state === 'up').length;
  return `apiVersion: projectcalico.org/v3
kind: NodeStatus
metadata:
  name: ${node}
spec:
  node: ${node}
  updatePeriodSeconds: 30
status:
  lastUpdated: "${lastUpdated}"
  agent: {state: ${agentState}, version: 0.1.0, routerID: 172.17.8.101, lastBootTime: "2024-05-01T16:00:00Z"}
  bgp:
    numberEstablishedV4: ${up(v4)}
    numberNotEstablishedV4: ${v4.length - up(v4)}
    numberEstablishedV6: ${up(v6)}
    numberNotEstablishedV6: ${v6.length - up(v6)}
    peersV4:${peers(v4)}    peersV6:${peers(v6)}`;
}

const node = (name: string, ip: string): string => `apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: ${name}\nspec:\n  bgp:\n    ipv4Address: ${ip}/24\n`;

beforeAll(async () => {
  store = (await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`])).address;
  const env = { TABBY_STORE_ADDR: store };
  const manifests = [
    node('node1', '172.17.8.101'),
    node('node2', '172.17.8.102'),
    node('node3', '172.17.8.103'),
    node('node4', '172.17.8.104'),
    node('node5', '172.17.8.105'),
    node('node6', '172.17.8.106'),
    // The walkthrough's flow 4.
    nodeStatus(
      'node1',
      '2024-05-01T23:58:50Z',
      [
        { ip: '172.17.8.102', type: 'node-to-node mesh', state: 'up', since: '2024-05-01T23:30:04Z', info: 'Established' },
        { ip: '10.20.30.40', type: 'global', state: 'start', since: '2024-05-01T16:28:38Z', info: 'Connect' },
        { ip: '192.10.0.0', type: 'node specific', state: 'start', since: '2024-05-01T16:28:57Z', info: 'Connect' },
      ],
      [{ ip: 'aa:bb::ff', type: 'node-to-node mesh', state: 'up', since: '2024-05-01T16:17:26Z', info: 'Established' }],
    ),
    // Last report five minutes ago (its agent was killed); a session up since three days.
    nodeStatus('node2', '2024-05-01T23:54:00Z', [{ ip: '172.17.8.101', type: 'node-to-node mesh', state: 'up', since: '2024-04-28T10:00:00Z', info: 'Established' }], []),
    // IPv6 only, a peer on another port that refuses connections.
    nodeStatus('node3', '2024-05-01T23:58:59Z', [], [{ ip: 'fd00::1', type: 'global', state: 'start', since: '2024-05-01T23:58:00Z', info: 'Active Socket: Connection refused', port: 1790 }]),
    // No peers (the mesh is off and no BGPPeer selects it).
    nodeStatus('node4', '2024-05-01T23:58:59Z', [], []),
    // Its agent stopped cleanly (SIGTERM): NotReady, sessions closed.
    nodeStatus('node6', '2024-05-01T23:58:30Z', [{ ip: '172.17.8.101', type: 'node-to-node mesh', state: 'down', since: '2024-05-01T23:58:30Z', info: 'Idle Received: Administrative shutdown' }], [], 'NotReady'),
  ];
  const r = await tabbyctl(['create', '-f', '-'], { stdin: manifests.join('---\n'), cwd: dir.path, env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  t = new Transcript(dir.path, { ...env, TZ: 'UTC', TABBYCTL_NOW: NOW, TABBY_NODE: 'node1' });
}, 30_000);

afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

it('prints every node\'s BGP sessions in calicoctl\'s layout, from the store', async () => {
  const flow4 = await t.run(['node', 'status', 'node1'], undefined, { note: "flow 4: node1's peers, from any machine" });
  expect(flow4.code).toBe(0);
  expect(flow4.stdout).toContain(`IPv4 BGP status
+--------------+-------------------+-------+----------+-------------+
| PEER ADDRESS |     PEER TYPE     | STATE |  SINCE   |    INFO     |
+--------------+-------------------+-------+----------+-------------+
| 172.17.8.102 | node-to-node mesh | up    | 23:30:04 | Established |
| 10.20.30.40  | global            | start | 16:28:38 | Connect     |
| 192.10.0.0   | node specific     | start | 16:28:57 | Connect     |
+--------------+-------------------+-------+----------+-------------+
`);
  expect((await t.run(['node', 'status'], undefined, { note: 'no NODE: this machine (TABBY_NODE=node1, as its agent reads it)' })).stdout).toBe(flow4.stdout);
  const stale = await t.run(['node', 'status', 'node2'], undefined, { note: 'a report older than three periods is stale: exit 1, tables kept' });
  expect(stale.code).toBe(1);
  expect(stale.stdout.split('\n')[0]).toBe('Tabby agent on node2 last reported 5m ago (it reports every 30s): status is stale.');
  expect((await t.run(['node', 'status', 'node3'], undefined, { note: 'IPv6 only' })).code).toBe(0);
  expect((await t.run(['node', 'status', 'node4'], undefined, { note: 'no peers' })).code).toBe(0);
  expect((await t.run(['node', 'status', 'node6'], undefined, { note: 'an agent that stopped' })).code).toBe(1);
  expect((await t.run(['node', 'status', 'node5'], undefined, { note: 'missing statuses and nodes' })).code).toBe(1);
  expect((await t.run(['node', 'status', 'node9'])).code).toBe(1);
  expect((await t.run(['node', 'status', 'node1', '--all'])).code).toBe(1);
  const all = await t.run(['node', 'status', '--all'], undefined, { note: 'every node, by name (exit 1: node2 stale, node5 silent, node6 stopped)' });
  expect(all.code).toBe(1);
  expect(all.stdout.split('\n').filter((l) => l.startsWith('==> '))).toEqual(['==> node1 <==', '==> node2 <==', '==> node3 <==', '==> node4 <==', '==> node5 <==', '==> node6 <==']);

  const [actual, expected] = t.golden(new URL('../golden/node-status.txt', import.meta.url).pathname);
  expect(actual).toBe(expected);
}, 60_000);

it('says what to do when there is no status for this machine, or no store', async () => {
  const env = { TABBY_STORE_ADDR: store, TZ: 'UTC', TABBYCTL_NOW: NOW, TABBY_NODE: 'not-a-node' };
  const here = await tabbyctl(['node', 'status'], { cwd: dir.path, env });
  expect(here).toEqual({
    code: 1,
    stdout: '',
    stderr:
      "no status for node not-a-node (this machine's name; TABBY_NODE overrides it) and no such node: name one, e.g. tabbyctl node status node1, or use --all (tabbyctl get nodes lists the nodes)\n",
  });
  const down = await tabbyctl(['node', 'status', 'node1'], { cwd: dir.path, env: { ...env, TABBY_STORE_ADDR: '127.0.0.1:1' } });
  expect(down.code).toBe(1);
  expect(down.stderr).toBe(
    'cannot reach the Tabby store at 127.0.0.1:1 (connection refused; is tabby-store running? Set the address with --store or TABBY_STORE_ADDR); without a store, ask the node\'s agent: tabbyctl node status --agent HOST:PORT\n',
  );
}, 30_000);

it('completes node names from the store (Nodes and NodeStatuses)', async () => {
  const env = { TABBY_STORE_ADDR: store };
  const r = await tabbyctl(['__complete', 'node', 'status'], { cwd: dir.path, env });
  expect(r.stdout.split('\n').filter((l) => l !== '')).toEqual(['node1', 'node2', 'node3', 'node4', 'node5', 'node6', '--all', '--agent']);
  const routes = await tabbyctl(['__complete', 'node', 'routes', 'node1', '-o'], { cwd: dir.path, env });
  expect(routes.stdout).toBe('ps\nwide\njson\nyaml\n');
}, 30_000);
