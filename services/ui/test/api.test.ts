/**
 * tabby-ui's API against the real thing: nats-server, tabby-store, tabby-ipam,
 * tabby-topology and two tabby-agents (node1 on 127.0.0.11, node2 on 127.0.0.12, a full
 * mesh), every process real and stopped by PID, tabby-ui among them. The graph shows the
 * nodes and the mesh session Established; a node's table is `tabbyctl node status`'s; an
 * SSE client hears a block being claimed and an agent stopping; a store outage shows in
 * `backends` and heals without restarting tabby-ui; an external peer, a pool being drained
 * and route reflectors show; a non-loopback listener without TLS and a token is refused;
 * with TLS and a token, the token is required.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { borderTable } from '@tabby/cli';
import { ProcessGroup, REPO_ROOT, eventually, makeCerts, startService, tempDir, type CommandResult, type ServiceProcess } from '@tabby/harness';
import { startUiCluster, type UiCluster } from './cluster.js';
import type { ApiError, BackendState, ClusterView, IpamView, NodeView, PreviewView, RoutesView, ViewEvent } from '../src/view.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-ui-api-');
let cluster: UiCluster;
let ui: ServiceProcess;
const tabbyctl = (args: readonly string[], input?: string): Promise<CommandResult> => cluster.tabbyctl(args, input);

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

function fetchText(url: string, opts: { method?: string; body?: string; headers?: Record<string, string>; ca?: Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const done = (res: IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body }));
    };
    const o = { method: opts.method ?? 'GET', headers: opts.headers ?? {} };
    const req = u.protocol === 'https:' ? httpsRequest(u, { ...o, ca: opts.ca }, done) : httpRequest(u, o, done);
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function getJson<T>(route: string): Promise<T> {
  const a = await fetchText(`${ui.url!}${route.slice(1)}`);
  return JSON.parse(a.body) as T;
}

/** An SSE client: every event received, in order. */
class EventStream {
  readonly events: { event: string; data: string }[] = [];
  private req: ReturnType<typeof httpRequest> | undefined;

  open(url: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.req = httpRequest(url, (res) => {
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          let i: number;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const event = /^event: (.*)$/m.exec(frame)?.[1];
            const data = /^data: (.*)$/m.exec(frame)?.[1];
            if (event !== undefined && data !== undefined) this.events.push({ event, data });
          }
        });
        resolve();
      });
      this.req.on('error', reject);
      this.req.end();
    });
  }

  views(): ViewEvent[] {
    return this.events.filter((e) => e.event === 'view').map((e) => JSON.parse(e.data) as ViewEvent);
  }

  close(): void {
    this.req?.destroy();
  }
}

beforeAll(async () => {
  cluster = await startUiCluster(group, dir.path, [
    ['node1', '127.0.0.11'],
    ['node2', '127.0.0.12'],
  ]);
  ui = await startService(group, 'ui', ['--listen', '127.0.0.1:0', '--store', cluster.storeAddress, '--topology', cluster.topology, '--ipam', cluster.ipam, '--refresh', '2'], { env: { TZ: 'UTC' } });
}, 90_000);

afterAll(async () => {
  await group.stopAll();
  dir.remove();
}, 30_000);

it('shows both nodes and their mesh session Established, with every backend reachable', async () => {
  const view = await eventually(
    'the mesh session to be Established on the graph',
    async () => {
      const v = await getJson<ClusterView>('/api/v1/cluster');
      return v.sessions.length === 1 && v.sessions[0].state === 'Established' && v.backends.every((b) => b.reachable) ? v : undefined;
    },
    45_000,
    500,
  );
  expect(view.nodes.map((n) => [n.name, n.ipv4Address, n.agent])).toEqual([
    ['node1', '127.0.0.11', 'Ready'],
    ['node2', '127.0.0.12', 'Ready'],
  ]);
  expect(view.sessions[0]).toMatchObject({ id: 'ipv4/node1~node2', family: 'ipv4', from: 'node1', to: 'node2', type: 'node-to-node mesh', info: 'Established', viable: true });
  expect(Date.parse(view.sessions[0].since)).not.toBeNaN();
  expect(view.peers).toEqual([]);
  expect(view.backends.map((b) => [b.name, b.reachable])).toEqual([
    ['store', true],
    ['topology', true],
    ['ipam', true],
  ]);
  // The page itself is served too.
  const page = await fetchText(ui.url!);
  expect(page.status).toBe(200);
  expect(page.contentType).toBe('text/html; charset=utf-8');
  expect((await fetchText(`${ui.url!}healthz`)).body).toBe('ok\n');
}, 60_000);

it("answers a node's session table with tabbyctl node status's rows", async () => {
  for (const name of ['node1', 'node2']) {
    const v = await getJson<NodeView>(`/api/v1/nodes/${name}`);
    const cli = await tabbyctl(['node', 'status', name]);
    expect(cli.code).toBe(0);
    expect(v.running).toBe(true);
    const table = (rows: NodeView['ipv4'], family: string): string =>
      rows.length === 0
        ? `No IPv${family} peers found.\n`
        : borderTable(['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO'], rows.map((r) => [r.peerAddress, r.peerType, r.state, r.since, r.info]));
    expect(`${v.health}\n\nIPv4 BGP status\n${table(v.ipv4, '4')}\nIPv6 BGP status\n${table(v.ipv6, '6')}\n`).toBe(cli.stdout);
    expect(v.ipv4).toHaveLength(1);
  }
}, 30_000);

it('answers an unknown node with a 404 JSON error, and is read-only', async () => {
  const a = await fetchText(`${ui.url!}api/v1/nodes/nosuch`);
  expect(a.status).toBe(404);
  expect(a.contentType).toBe('application/json; charset=utf-8');
  expect(JSON.parse(a.body) as ApiError).toEqual({ error: { code: 404, reason: 'NotFound', message: 'no node nosuch: tabbyctl get nodes lists the nodes' } });
  expect((await fetchText(`${ui.url!}api/v1/nodes/nosuch/routes`)).status).toBe(404);
  expect((await fetchText(`${ui.url!}api/v1/cluster`, { method: 'DELETE' })).status).toBe(405);
  // No way out of the web directory.
  expect((await fetchText(`${ui.url!}..%2F..%2Fpackage.json`)).status).toBe(404);
}, 30_000);

it('previews a manifest: the session a new global peer adds on each node; a bad manifest is a 400 naming the line', async () => {
  const manifest = `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: tor
spec:
  peerIP: 127.0.0.99
  asNumber: 65001
`;
  const a = await fetchText(`${ui.url!}api/v1/preview`, { method: 'POST', body: manifest });
  expect(a.status).toBe(200);
  const v = JSON.parse(a.body) as PreviewView;
  expect(v.nodes.map((n) => [n.node, n.added, n.removed])).toEqual([
    ['node1', ['127.0.0.99 (global)'], []],
    ['node2', ['127.0.0.99 (global)'], []],
  ]);
  const bad = await fetchText(`${ui.url!}api/v1/preview`, { method: 'POST', body: 'apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: x\nspec:\n  peerIP: 1.2.3.4\n  nosuch: 1\n' });
  expect(bad.status).toBe(400);
  expect((JSON.parse(bad.body) as ApiError).error.message).toMatch(/document 1, line 7/);
  // Nothing was written.
  expect((await tabbyctl(['get', 'bgppeers'])).stdout).not.toContain('tor');
}, 30_000);

it('draws an external peer and its sessions, in the state the nodes report', async () => {
  const peer = 'apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: tor\nspec:\n  peerIP: 127.0.0.99\n  asNumber: 65001\n';
  expect((await tabbyctl(['create', '-f', '-'], peer)).code).toBe(0);
  try {
    const v = await eventually(
      'both nodes to report their session to 127.0.0.99',
      async () => {
        const c = await getJson<ClusterView>('/api/v1/cluster');
        const toPeer = c.sessions.filter((s) => s.to === 'peer:127.0.0.99');
        return toPeer.length === 2 && toPeer.every((s) => s.state !== 'Unknown') ? c : undefined;
      },
      30_000,
      300,
    );
    expect(v.peers).toEqual([{ id: 'peer:127.0.0.99', address: '127.0.0.99', port: 179, asNumber: 65001 }]);
    const toPeer = v.sessions.filter((s) => s.to === 'peer:127.0.0.99');
    expect(toPeer.map((s) => [s.id, s.from, s.type])).toEqual([
      ['ipv4/node1~peer:127.0.0.99', 'node1', 'global'],
      ['ipv4/node2~peer:127.0.0.99', 'node2', 'global'],
    ]);
    // Nothing listens there: the nodes keep trying, and the info says why.
    for (const s of toPeer) expect(['Active', 'Connect', 'Idle']).toContain(s.state);
    // The same state word starts the INFO cell of `tabbyctl node status`.
    const row = (await getJson<NodeView>('/api/v1/nodes/node1')).ipv4.find((r) => r.peerAddress === '127.0.0.99')!;
    expect(row.info.split(' ')[0]).toMatch(/^(Active|Connect|Idle)$/);
  } finally {
    expect((await tabbyctl(['delete', 'bgppeer', 'tor'])).code).toBe(0);
  }
  await eventually('the peer to leave the graph', async () => (await getJson<ClusterView>('/api/v1/cluster')).peers.length === 0, 20_000, 300);
}, 60_000);

it('marks a disabled pool that still holds workloads as being drained, with how many remain', async () => {
  const pool = (disabled: boolean): string =>
    `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: old-pool\nspec:\n  cidr: 10.99.0.0/24\n  disabled: ${disabled}\n`;
  expect((await tabbyctl(['create', '-f', '-'], pool(false))).code).toBe(0);
  expect((await tabbyctl(['workload', 'add', 'default/old-1', '--node', 'node1', '--pool', 'old-pool'])).code).toBe(0);
  expect((await tabbyctl(['apply', '-f', '-'], pool(true))).code).toBe(0);
  const draining = await eventually(
    'old-pool to show as being drained',
    async () => (await getJson<IpamView>('/api/v1/ipam')).pools.find((p) => p.name === 'old-pool' && p.disabled && p.migration),
    20_000,
    300,
  );
  expect(draining).toMatchObject({ cidr: '10.99.0.0/24', used: '1', total: '256', migration: { remainingWorkloads: 1, startedWith: 1 } });
  expect((await tabbyctl(['workload', 'delete', 'default/old-1'])).code).toBe(0);
  const drained = await eventually(
    'old-pool to be drained',
    async () => (await getJson<IpamView>('/api/v1/ipam')).pools.find((p) => p.name === 'old-pool' && p.used === '0'),
    20_000,
    300,
  );
  expect(drained.migration).toBeUndefined();
}, 60_000);

it('tells an SSE client when a block is claimed and when an agent stops, and the views follow', async () => {
  const sse = new EventStream();
  await sse.open(`${ui.url!}api/v1/events`);
  try {
    await eventually('the first backends event', () => sse.events.some((e) => e.event === 'backends'), 5_000);
    const before = sse.views().length;
    expect((await tabbyctl(['workload', 'add', 'default/web-1', '--node', 'node1'])).code).toBe(0);
    await eventually('a view event for IPAM', () => sse.views().slice(before).some((e) => e.ipam), 15_000, 100);
    const ipam = await getJson<IpamView>('/api/v1/ipam');
    const pool = ipam.pools.find((p) => p.name === 'default-ipv4-ippool')!;
    expect(pool).toMatchObject({ cidr: '192.168.0.0/16', disabled: false, used: '1', total: '65536' });
    expect(pool.blocks).toHaveLength(1);
    expect(pool.blocks[0]).toMatchObject({ node: 'node1', used: '1', total: '64', borrowed: 0 });
    expect(pool.blocks[0].cidr).toMatch(/^192\.168\.\d+\.\d+\/26$/);
    // node1's block reaches node2's RIB; its routes come from its agent.
    const routes = await eventually(
      "node1's block in node2's routes",
      async () => {
        const r = await getJson<RoutesView>('/api/v1/nodes/node2/routes');
        return r.routes.some((x) => x.prefix === pool.blocks[0].cidr && x.from === '127.0.0.11' && x.best) ? r : undefined;
      },
      20_000,
      300,
    );
    expect(routes.node).toBe('node2');

    const mark = sse.views().length;
    await cluster.agents.get('node2')!.process.stop();
    await eventually('a view event for the cluster', () => sse.views().slice(mark).some((e) => e.cluster), 30_000, 100);
    const down = await eventually(
      'the session to leave Established',
      async () => {
        const v = await getJson<ClusterView>('/api/v1/cluster');
        return v.sessions[0].state !== 'Established' ? v : undefined;
      },
      30_000,
      300,
    );
    expect(down.sessions[0].id).toBe('ipv4/node1~node2');
    expect(['Active', 'Connect', 'Idle', 'OpenSent', 'OpenConfirm']).toContain(down.sessions[0].state);
  } finally {
    sse.close();
  }
}, 90_000);

it('shows the store unreachable while it is down and recovers when it is back, without a restart', async () => {
  await cluster.store.process.stop();
  const down = await eventually(
    'the store to show unreachable',
    async () => {
      const a = await fetchText(`${ui.url!}api/v1/cluster`);
      expect(a.status).toBe(200);
      const v = JSON.parse(a.body) as ClusterView;
      const s = v.backends.find((b) => b.name === 'store')!;
      return s.reachable ? undefined : { v, s };
    },
    20_000,
    200,
  );
  expect(down.s.error).toMatch(/ECONNREFUSED|refused|unavailable/i);
  // The last view stays.
  expect(down.v.nodes.map((n) => n.name)).toEqual(['node1', 'node2']);
  cluster.store = await startService(group, 'store', cluster.storeArgs);
  const back = await eventually(
    'the store to show reachable again',
    async () => {
      const v = await getJson<ClusterView>('/api/v1/cluster');
      return v.backends.find((b) => b.name === 'store')!.reachable ? v : undefined;
    },
    30_000,
    200,
  );
  expect(back.backends.every((b: BackendState) => b.reachable)).toBe(true);
  expect(back.nodes.map((n) => n.name)).toEqual(['node1', 'node2']);
}, 60_000);

it('refuses to listen on a non-loopback address without TLS and a token', async () => {
  const p = group.start('tabby-ui-open', process.execPath, [path.join(REPO_ROOT, 'services/ui/dist/main.js'), '--listen', '0.0.0.0:0', '--store', cluster.storeAddress]);
  const exit = await p.exited();
  expect(exit.code).toBe(2);
  const lines = p.output().trim().split('\n');
  expect(lines[lines.length - 1]).toBe(
    'tabby-ui: --listen 0.0.0.0:0 is not a loopback address: it needs --tls-cert/--tls-key and a token (--token-file or TABBY_UI_TOKEN) (or listen on 127.0.0.1; --insecure-listen when the address is private to a container)',
  );
}, 30_000);

it('with TLS and a token, answers 401 without the token and 200 with it', async () => {
  const certs = makeCerts(dir.path);
  const tokenFile = path.join(dir.path, 'token');
  writeFileSync(tokenFile, 's3cret-token\n');
  const secure = await startService(group, 'ui', ['--listen', '127.0.0.1:0', '--store', cluster.storeAddress, '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--token-file', tokenFile]);
  expect(secure.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
  const ca = readFileSync(certs.ca);
  const none = await fetchText(`${secure.url!}api/v1/cluster`, { ca });
  expect(none.status).toBe(401);
  expect((JSON.parse(none.body) as ApiError).error).toMatchObject({ code: 401, reason: 'Unauthorized' });
  const wrong = await fetchText(`${secure.url!}api/v1/cluster`, { ca, headers: { authorization: 'Bearer nope' } });
  expect(wrong.status).toBe(401);
  const ok = await fetchText(`${secure.url!}api/v1/cluster`, { ca, headers: { authorization: 'Bearer s3cret-token' } });
  expect(ok.status).toBe(200);
  expect((JSON.parse(ok.body) as ClusterView).backends.map((b) => b.name)).toEqual(['store', 'topology', 'ipam']);
  // The EventSource cannot set headers: the token as access_token works for it.
  expect((await fetchText(`${secure.url!}api/v1/ipam?access_token=s3cret-token`, { ca })).status).toBe(200);
  await secure.process.stop();
}, 30_000);

it('groups route reflectors by cluster id', async () => {
  const r = await tabbyctl(['patch', 'node', 'node1', '-p', '{"spec":{"bgp":{"routeReflectorClusterID":"224.0.0.1"}}}']);
  expect(r.code, r.stderr).toBe(0);
  const v = await eventually(
    'node1 to show as a route reflector',
    async () => {
      const c = await getJson<ClusterView>('/api/v1/cluster');
      return c.clusters.length > 0 ? c : undefined;
    },
    20_000,
    300,
  );
  expect(v.clusters).toEqual([{ clusterId: '224.0.0.1', reflectors: ['node1'] }]);
  expect(v.nodes.find((n) => n.name === 'node1')!.routeReflectorClusterId).toBe('224.0.0.1');
}, 30_000);
