/**
 * `tabbyctl node status` and `node routes` against real agents: nats-server, tabby-store,
 * tabby-ipam, tabby-topology and two tabby-agents (node1 on 127.0.0.11, node2 on
 * 127.0.0.12) in a full mesh, every process real and stopped by PID. The status read
 * from the store and the one asked of the agent (--agent) print the same; each agent
 * writes its gRPC address to its NodeStatus, so `node routes NODE` finds it without
 * --agent; node2's RIB holds node1's block and node1's node2's; an agent killed with -9
 * turns stale, and `node routes` says its address is unreachable and the status stale.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessGroup, eventually, freePort, startNats, startService, tempDir, type ServiceProcess } from '@tabby/harness';
import { borderTable } from '@tabby/cli';
import { tabbyctl, type CliResult } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-node-agents-');
const agents = new Map<string, ServiceProcess>();
let env: Record<string, string>;
let bgpPort: number;

const run = (args: string[]): Promise<CliResult> => tabbyctl(args, { cwd: dir.path, env });
/** SINCE changes from run to run: 12:34:56 becomes hh:mm:ss (same width, so the table stays aligned). */
const masked = (text: string): string => text.replace(/\| \d\d:\d\d:\d\d \|/g, '| hh:mm:ss |');

beforeAll(async () => {
  const nats = await startNats(group, dir.path);
  const [storePort, ipamPort, topologyPort] = [await freePort('127.0.0.1'), await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  bgpPort = await freePort('127.0.0.11');
  const store = `127.0.0.1:${storePort}`;
  const ipam = `127.0.0.1:${ipamPort}`;
  const topology = `127.0.0.1:${topologyPort}`;
  await startService(group, 'store', ['--listen', store, '--data-dir', `${dir.path}/store`, '--nats', nats.url]);
  await startService(group, 'ipam', ['--listen', ipam, '--data-dir', `${dir.path}/ipam`, '--store', store, '--nats', nats.url]);
  await startService(group, 'topology', ['--listen', topology, '--store', store, '--ipam', ipam, '--nats', nats.url]);
  env = { TABBY_STORE_ADDR: store, TABBY_IPAM_ADDR: ipam, TZ: 'UTC' };
  const setup = `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  listenPort: ${bgpPort}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 192.168.0.0/16
`;
  expect((await tabbyctl(['create', '-f', '-'], { stdin: setup, cwd: dir.path, env })).code).toBe(0);
  for (const [node, address] of [
    ['node1', '127.0.0.11'],
    ['node2', '127.0.0.12'],
  ]) {
    const args = ['--node', node, '--listen', '127.0.0.1:0', '--bgp-address', address, '--bgp-listen', 'node-address', '--store', store, '--topology', topology, '--nats', nats.url];
    agents.set(node, await startService(group, 'agent', [...args, '--hold-time', '9', '--status-interval', '1', '--peer-allow', '127.0.0.0/8']));
  }
}, 60_000);

afterAll(async () => {
  await group.stopAll();
  dir.remove();
}, 30_000);

/** Every session is on the cluster's BGP port (not 179), so PEER ADDRESS carries it. */
const TABLE = (peer: string): string =>
  `IPv4 BGP status\n${borderTable(['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO'], [[`${peer}:${bgpPort}`, 'node-to-node mesh', 'up', 'hh:mm:ss', 'Established']])}\nIPv6 BGP status\nNo IPv6 peers found.\n\n`;

it('shows the mesh sessions from the store and from the agent alike', async () => {
  await eventually(
    'node1 and node2 to report their mesh session up',
    async () => {
      for (const n of ['node1', 'node2']) if (!(await run(['node', 'status', n])).stdout.includes(' | up    | ')) return false;
      return true;
    },
    45_000,
    500,
  );
  const s1 = await run(['node', 'status', 'node1']);
  expect(s1.code).toBe(0);
  expect(masked(s1.stdout)).toBe(`Tabby agent on node1 is running.\n\n${TABLE('127.0.0.12')}`);
  const direct = await run(['node', 'status', 'node1', '--agent', agents.get('node1')!.address]);
  expect({ code: direct.code, stdout: masked(direct.stdout), stderr: direct.stderr }).toEqual({ code: 0, stdout: masked(s1.stdout), stderr: '' });
  const all = await run(['node', 'status', '--all']);
  expect(all.code).toBe(0);
  expect(masked(all.stdout)).toBe(`==> node1 <==\nTabby agent on node1 is running.\n\n${TABLE('127.0.0.12')}==> node2 <==\nTabby agent on node2 is running.\n\n${TABLE('127.0.0.11')}`);
}, 60_000);

it('writes each agent\'s bound gRPC address to its NodeStatus', async () => {
  for (const n of ['node1', 'node2']) {
    const r = await run(['get', 'nodestatus', n, '-o', 'json']);
    expect(r.code).toBe(0);
    const ns = JSON.parse(r.stdout) as { status: { agent: { address: string } } };
    expect(ns.status.agent.address).toBe(agents.get(n)!.address);
  }
}, 30_000);

it("lists node1's block in node2's RIB and node2's in node1's, finding each agent through its NodeStatus", async () => {
  expect((await run(['workload', 'add', 'default/web-1', '--node', 'node1'])).code).toBe(0);
  expect((await run(['workload', 'add', 'default/web-2', '--node', 'node2'])).code).toBe(0);
  const agent2 = agents.get('node2')!.address;
  const ribFrom = (node: string, peer: string): Promise<CliResult> => {
    const row = new RegExp(`^192\\.168\\.\\d+\\.\\d+/26 +${peer.replace(/\./g, '\\.')} +${peer.replace(/\./g, '\\.')} +- +\\* +\\S+ +$`, 'm');
    return eventually(
      `${peer}'s block at ${node}`,
      async () => {
        const r = await run(['node', 'routes', node]);
        return row.test(r.stdout) ? r : undefined;
      },
      20_000,
      300,
    );
  };
  const rib = await ribFrom('node2', '127.0.0.11');
  expect(rib.code).toBe(0);
  expect(rib.stderr).toBe('');
  expect(rib.stdout.split('\n')[0]).toMatch(/^PREFIX +VIA +FROM +AS PATH +BEST +REASON +$/);
  const rib1 = await ribFrom('node1', '127.0.0.12');
  expect(rib1.code).toBe(0);
  // node1's own block is there too, local.
  expect(rib1.stdout).toMatch(/^192\.168\.\d+\.\d+\/26 +- +local +- +\* +\S+ +$/m);
  // --agent still names the agent directly; the same agent answers.
  const [viaStatus, direct] = await Promise.all([run(['node', 'routes', 'node2']), run(['node', 'routes', 'node2', '--agent', agent2])]);
  expect(direct).toEqual(viaStatus);
  const at1 = await run(['node', 'routes', 'node1', '--agent', agents.get('node1')!.address, '-o', 'json']);
  const json = JSON.parse(at1.stdout) as { node: string; routes: { prefix: string; local: boolean; paths: { fromPeer: string }[] }[] };
  expect(json.node).toBe('node1');
  expect(json.routes.filter((r) => r.local).map((r) => r.paths[0].fromPeer)).toEqual(['']);
  const wrong = await run(['node', 'routes', 'node1', '--agent', agent2]);
  expect(wrong).toEqual({ code: 1, stdout: '', stderr: `the agent at ${agent2} runs node node2, not node1: give node1's agent address with --agent\n` });
}, 60_000);

it('says in one line why it cannot find a node\'s agent', async () => {
  expect(await run(['node', 'routes', 'node9'])).toEqual({ code: 1, stdout: '', stderr: 'no such node node9 (tabbyctl get nodes lists the nodes)\n' });
  // A Node no agent runs for: no NodeStatus, so no address.
  const node3 = 'apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: node3\n';
  expect((await tabbyctl(['create', '-f', '-'], { stdin: node3, cwd: dir.path, env })).code).toBe(0);
  expect(await run(['node', 'routes', 'node3'])).toEqual({
    code: 1,
    stdout: '',
    stderr: 'no status for node node3 yet, so no agent address: is its agent running? (tabby-agent --node node3 reports it when it starts); or give it with --agent HOST:PORT\n',
  });
  expect((await run(['delete', 'node', 'node3'])).code).toBe(0);
}, 30_000);

it('shows a killed agent as stale, tables kept, exit 1', async () => {
  const p = agents.get('node2')!.process;
  p.signal('SIGKILL');
  await p.exited();
  // The agent reports every second: three periods later its status is stale.
  const stale = await eventually('node2 status to go stale', async () => {
    const r = await run(['node', 'status', 'node2']);
    return r.code === 1 ? r : undefined;
  }, 20_000, 500);
  expect(stale.stdout.split('\n')[0]).toMatch(/^Tabby agent on node2 last reported \d+s ago \(it reports every 1s\): status is stale\.$/);
  expect(stale.stdout).toContain('IPv4 BGP status\n+----');
  const down = await run(['node', 'status', 'node2', '--agent', agents.get('node2')!.address]);
  expect(down.code).toBe(1);
  expect(down.stderr).toMatch(/^cannot reach the Tabby agent at 127\.0\.0\.1:\d+ \(connection refused; is tabby-agent running\? Set the address with --agent or TABBY_AGENT_ADDR\)\n$/);
  // Without --agent, the address comes from the stale status: the message says both.
  const address = agents.get('node2')!.address;
  const routes = await run(['node', 'routes', 'node2']);
  expect({ code: routes.code, stdout: routes.stdout }).toEqual({ code: 1, stdout: '' });
  expect(routes.stderr).toMatch(
    new RegExp(
      `^cannot reach the Tabby agent at ${address.replace(/\./g, '\\.')} \\(connection refused; [^)]*\\); ${address.replace(/\./g, '\\.')} comes from node2's NodeStatus, which may be stale: Tabby agent on node2 last reported \\d+s ago \\(it reports every 1s\\): status is stale\\.\n$`,
    ),
  );
}, 60_000);
