/**
 * `node status --agent` and `node routes` through run(), against a small in-test gRPC
 * server implementing tabby.v1.Agent (the client's peer: the agent process itself is
 * tested in services/agent) and one answering ResourceStore.Get from a few NodeStatus
 * and Node objects (where `node routes` finds the agent without --agent). Checks the
 * output, that the agent is the node asked for, the request sent, and the one-line errors.
 */
import { Server, ServerCredentials, status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wrap } from '@tabby/api';
import { AgentService, Node, ResourceStoreService, type AgentServer, type GetRequest, type GetResponse, type RoutesRequest, type RoutesResponse } from '@tabby/proto';
import { run, type CliIO } from '../src/index.js';
import type { AgentApi } from '../src/agent-client.js';
import { nodeRoutesCommand } from '../src/commands/node.js';
import { CommandContext } from '../src/context.js';
import { CliError } from '../src/errors.js';
import { nodeStatus, peer } from './node-fixtures.js';

const NOW = '2024-05-01T23:59:00Z';
const STATUS = nodeStatus('node1', '2024-05-01T23:58:59Z', [peer('127.0.0.12', 'node-to-node mesh', 'up', '2024-05-01T23:30:04Z', 'Established')], []);
const ROUTES: RoutesResponse = {
  node: 'node1',
  routes: [
    {
      prefix: '10.0.24.0/26',
      family: 'ipv4',
      reason: 'only-path',
      local: false,
      paths: [{ fromPeer: '127.0.0.12', nextHop: '127.0.0.12', asPath: [], origin: 'IGP', localPref: 100, originatorId: '', clusterList: [], communities: [], best: true }],
    },
  ],
};

let server: Server;
let address: string;
let storeServer: Server;
let store: string;
const requests: RoutesRequest[] = [];
const home = mkdtempSync(path.join(tmpdir(), 'tabbyctl-node-'));

beforeAll(async () => {
  server = new Server();
  const impl: AgentServer = {
    status: (_call, cb) => cb(null, { status: STATUS, configGeneration: 3, topologyConnected: false, storeConnected: false }),
    routes: (call, cb) => {
      requests.push(call.request);
      if (call.request.prefix === '192.0.2.0/24') {
        const err: Partial<ServiceError> = { code: grpcStatus.INVALID_ARGUMENT, details: 'an error of the agent' };
        cb(err, null);
        return;
      }
      cb(null, ROUTES);
    },
    resetPeer: (_call, cb) => cb(null, { reset: true }),
  };
  server.addService(AgentService, impl);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  address = `127.0.0.1:${port}`;

  // node1: status with the agent's address; node2: a status written by an agent without
  // the address field; node3: a Node without status; node4: a stale status whose agent is gone.
  const statuses = new Map([
    ['node1', nodeStatus('node1', '2024-05-01T23:58:59Z', [], [], { address })],
    ['node2', nodeStatus('node2', '2024-05-01T23:58:59Z', [], [])],
    ['node4', nodeStatus('node4', '2024-05-01T23:50:00Z', [], [], { address: '127.0.0.1:1' })],
    ['node5', nodeStatus('node5', '2024-05-01T23:58:59Z', [], [], { address: '127.0.0.1:1' })],
  ]);
  const nodes = new Set(['node1', 'node2', 'node3', 'node4', 'node5']);
  storeServer = new Server();
  storeServer.addService(ResourceStoreService, {
    get: (call: { request: GetRequest }, cb: (err: Partial<ServiceError> | null, res: GetResponse | null) => void) => {
      const { kind, name } = call.request;
      const ns = kind === 'NodeStatus' ? statuses.get(name) : undefined;
      if (ns) return cb(null, { resource: wrap('NodeStatus', ns) });
      if (kind === 'Node' && nodes.has(name)) {
        return cb(null, { resource: wrap('Node', Node.fromPartial({ metadata: { name, resourceVersion: '1' } })) });
      }
      cb({ code: grpcStatus.NOT_FOUND, details: `resource does not exist: ${kind}(${name}) with error: <nil>` }, null);
    },
  });
  const storePort = await new Promise<number>((resolve, reject) => storeServer.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  store = `127.0.0.1:${storePort}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  await new Promise<void>((resolve) => storeServer.tryShutdown(() => resolve()));
  rmSync(home, { recursive: true, force: true });
});

function io(env: Record<string, string> = {}): { io: CliIO; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: (t) => void (out += t),
      stderr: (t) => void (err += t),
      readStdin: () => Promise.resolve(''),
      env: { HOME: home, TZ: 'UTC', TABBYCTL_NOW: NOW, ...env },
      cwd: home,
    },
    out: () => out,
    err: () => err,
  };
}

async function tabbyctl(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const c = io(env);
  const code = await run(args, c.io);
  return { code, out: c.out(), err: c.err() };
}

const originalTZ = process.env.TZ;
beforeAll(() => {
  process.env.TZ = 'UTC';
});
afterAll(() => {
  if (originalTZ === undefined) delete process.env.TZ;
  else process.env.TZ = originalTZ;
});

describe('node status --agent', () => {
  it('prints the agent\'s status in calicoctl\'s layout, with or without NODE', async () => {
    const want = `Tabby agent on node1 is running.

IPv4 BGP status
+--------------+-------------------+-------+----------+-------------+
| PEER ADDRESS |     PEER TYPE     | STATE |  SINCE   |    INFO     |
+--------------+-------------------+-------+----------+-------------+
| 127.0.0.12   | node-to-node mesh | up    | 23:30:04 | Established |
+--------------+-------------------+-------+----------+-------------+

IPv6 BGP status
No IPv6 peers found.

`;
    expect(await tabbyctl(['node', 'status', 'node1', '--agent', address])).toEqual({ code: 0, out: want, err: '' });
    expect(await tabbyctl(['node', 'status', '--agent', address])).toEqual({ code: 0, out: want, err: '' });
  });

  it('refuses an agent that runs another node', async () => {
    expect(await tabbyctl(['node', 'status', 'node2', '--agent', address])).toEqual({
      code: 1,
      out: '',
      err: `the agent at ${address} runs node node1, not node2: give node2's agent address with --agent\n`,
    });
  });

  it('says in one line that the agent is unreachable', async () => {
    const r = await tabbyctl(['node', 'status', 'node1', '--agent', '127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('cannot reach the Tabby agent at 127.0.0.1:1 (connection refused; is tabby-agent running? Set the address with --agent or TABBY_AGENT_ADDR)\n');
  });

  it('does not mix --all with NODE or --agent', async () => {
    expect((await tabbyctl(['node', 'status', '--all', '--agent', address])).err).toBe("--all reads every node from the store; --agent asks one node's agent: give one of them\n");
    expect((await tabbyctl(['node', 'status', 'node1', '--all'])).err).toBe('give either NODE or --all, not both\n');
  });

  it('rejects a malformed TABBYCTL_NOW', async () => {
    expect((await tabbyctl(['node', 'status', '--agent', address], { TABBYCTL_NOW: 'noon' })).err).toBe(
      'TABBYCTL_NOW must be an RFC 3339 time such as 2024-05-01T12:00:00Z, got "noon"\n',
    );
  });
});

describe('node routes', () => {
  it('prints the table from --agent, or from TABBY_AGENT_ADDR', async () => {
    const want = 'PREFIX         VIA          FROM         AS PATH   BEST   REASON      \n10.0.24.0/26   127.0.0.12   127.0.0.12   -         *      only-path   \n\n';
    expect(await tabbyctl(['node', 'routes', 'node1', '--agent', address])).toEqual({ code: 0, out: want, err: '' });
    expect(await tabbyctl(['node', 'routes', 'node1'], { TABBY_AGENT_ADDR: address })).toEqual({ code: 0, out: want, err: '' });
  });

  it('sends --family and the canonical --prefix', async () => {
    requests.length = 0;
    const r = await tabbyctl(['node', 'routes', 'node1', '--agent', address, '--family', 'ipv4', '--prefix', '10.0.24.5/26', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(requests).toEqual([{ family: 'ipv4', prefix: '10.0.24.0/26' }]);
    expect((JSON.parse(r.out) as { node: string }).node).toBe('node1');
  });

  it.each([
    [['--family', 'ipv5'], 'invalid --family "ipv5": use ipv4 or ipv6'],
    [['--prefix', '10.0.24.5'], 'invalid --prefix "10.0.24.5": use a CIDR such as 10.0.24.0/26'],
    [['-o', 'name'], "unrecognized output format 'name' (use one of: ps, wide, json, yaml)"],
  ])('rejects %j before calling', async (flags, message) => {
    expect(await tabbyctl(['node', 'routes', 'node1', '--agent', address, ...flags])).toEqual({ code: 1, out: '', err: `${message}\n` });
  });

  it('passes on the agent\'s own error in one line', async () => {
    expect(await tabbyctl(['node', 'routes', 'node1', '--agent', address, '--prefix', '192.0.2.0/24'])).toEqual({ code: 1, out: '', err: 'an error of the agent\n' });
  });

  it('finds the agent without --agent at the address in the node\'s status', async () => {
    const want = 'PREFIX         VIA          FROM         AS PATH   BEST   REASON      \n10.0.24.0/26   127.0.0.12   127.0.0.12   -         *      only-path   \n\n';
    expect(await tabbyctl(['node', 'routes', 'node1', '--store', store])).toEqual({ code: 0, out: want, err: '' });
  });

  it.each([
    ['node9', 'no such node node9 (tabbyctl get nodes lists the nodes)'],
    ['node3', 'no status for node node3 yet, so no agent address: is its agent running? (tabby-agent --node node3 reports it when it starts); or give it with --agent HOST:PORT'],
    ['node2', 'the status of node node2 has no agent address (its agent predates --advertise-address): pass --agent HOST:PORT'],
  ])('without --agent, %s: one line', async (node, message) => {
    expect(await tabbyctl(['node', 'routes', node, '--store', store])).toEqual({ code: 1, out: '', err: `${message}\n` });
  });

  it('says the address from the status is unreachable, and whether the status is stale', async () => {
    const refused = 'cannot reach the Tabby agent at 127.0.0.1:1 (connection refused; is tabby-agent running? Set the address with --agent or TABBY_AGENT_ADDR)';
    expect(await tabbyctl(['node', 'routes', 'node4', '--store', store])).toEqual({
      code: 1,
      out: '',
      err: `${refused}; 127.0.0.1:1 comes from node4's NodeStatus, which may be stale: Tabby agent on node4 last reported 9m ago (it reports every 30s): status is stale.\n`,
    });
    expect((await tabbyctl(['node', 'routes', 'node5', '--store', store])).err).toBe(
      `${refused}; 127.0.0.1:1 comes from node5's NodeStatus, reported recently: can this machine reach the agent's --advertise-address?\n`,
    );
  });

  it('says how to ask the agent directly when the store is down', async () => {
    const r = await tabbyctl(['node', 'routes', 'node1', '--store', '127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^cannot reach the Tabby store at 127\.0\.0\.1:1 \(.*\); without a store, ask the node's agent: tabbyctl node routes node1 --agent HOST:PORT\n$/);
  });

  it('--agent and TABBY_AGENT_ADDR win over the status', async () => {
    const c = io({ TABBY_AGENT_ADDR: '127.0.0.1:2' });
    const ctx = new CommandContext(c.io, () => ({ store }));
    const asked: string[] = [];
    const fake = (at: string): AgentApi => {
      asked.push(at);
      return { status: () => Promise.reject(new Error('unused')), routes: () => Promise.reject(new CliError(`cannot reach the Tabby agent at ${at} (connection refused)`)), close: () => undefined };
    };
    await expect(nodeRoutesCommand('node1', {}, ctx, fake)).rejects.toThrow(/^cannot reach the Tabby agent at 127\.0\.0\.1:2 \(connection refused\)$/);
    await expect(nodeRoutesCommand('node1', { agent: '127.0.0.1:3' }, ctx, fake)).rejects.toThrow(/^cannot reach the Tabby agent at 127\.0\.0\.1:3 \(connection refused\)$/);
    expect(asked).toEqual(['127.0.0.1:2', '127.0.0.1:3']);
  });

  it('refuses an agent that runs another node', async () => {
    expect((await tabbyctl(['node', 'routes', 'node9', '--agent', address])).err).toBe(`the agent at ${address} runs node node1, not node9: give node9's agent address with --agent\n`);
  });
});
