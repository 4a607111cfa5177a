/**
 * tabby-agent against a control plane that requires client certificates, with real
 * processes: tabby-store, tabby-ipam and tabby-topology serve mTLS (client CA = the test CA)
 * and reach each other with the CA and a peer certificate. Agents with --tls-ca and no
 * client certificate, or with one from a CA the servers do not trust, are refused: their
 * log says the TLS handshake failed and why, no Node or NodeStatus is written, and the
 * store's revision does not move. Two agents with the CA and a peer certificate (one by
 * flags, one by TABBY_TLS_* variables), BGP on 127.0.0.51 and 127.0.0.52, register their
 * Nodes, mesh with each other (Established in `tabbyctl node status`, read from the store
 * and asked of each agent over its own mTLS gRPC), every call with a client certificate.
 * Certificates are made at test time; every process is stopped by PID.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessGroup, eventually, freePort, makeCerts, sleep, startService, tempDir, type ServiceProcess, type TestCerts } from '@tabby/harness';
import { classifyDialFailure } from '@tabby/runtime';
import { tabbyctl, type CliResult } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-agent-tls-');
let certs: TestCerts;
let store: string;
let topology: string;
let bgpPort: number;
/** Every process's outgoing gRPC and served gRPC: the CA, the peer pair, the client CA. */
let tls: string[];

/** tabbyctl with the CA and its client certificate, against the mTLS store. */
const ctl = (args: readonly string[], stdin?: string): Promise<CliResult> =>
  tabbyctl(['--tls-ca', certs.ca, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey, '--store', store, ...args], { cwd: dir.path, stdin, env: { TZ: 'UTC' } });

/** The JSON log lines of a process whose msg matches, parsed. */
function logLines(output: string, msg: RegExp): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const obj = JSON.parse(line) as Record<string, unknown>;
    if (typeof obj.msg === 'string' && msg.test(obj.msg)) found.push(obj);
  }
  return found;
}

/** The store's revision (a list's resourceVersion) and the names of the Nodes and NodeStatuses. */
async function storeState(): Promise<{ revision: string; nodes: string[]; statuses: string[] }> {
  const names = async (kind: string): Promise<{ revision: string; names: string[] }> => {
    const r = await ctl(['get', kind, '-o', 'json']);
    expect(r.stderr).toBe('');
    const list = JSON.parse(r.stdout) as { metadata: { resourceVersion: string }; items: { metadata: { name: string } }[] };
    return { revision: list.metadata.resourceVersion, names: list.items.map((i) => i.metadata.name) };
  };
  const [nodes, statuses] = [await names('nodes'), await names('nodestatus')];
  return { revision: statuses.revision, nodes: nodes.names, statuses: statuses.names };
}

beforeAll(async () => {
  certs = makeCerts(dir.path);
  tls = ['--tls-ca', certs.ca, '--tls-cert', certs.peerCert, '--tls-key', certs.peerKey, '--tls-client-ca', certs.ca];
  const s = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir.path, 'store'), '--tls-cert', certs.serverCert, '--tls-key', certs.serverKey, '--tls-client-ca', certs.ca]);
  store = s.address;
  const ipam = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir.path, 'ipam'), '--store', store, ...tls]);
  const t = await startService(group, 'topology', ['--listen', '127.0.0.1:0', '--store', store, '--ipam', ipam.address, ...tls]);
  topology = t.address;
  await t.process.waitForLine(/"msg":"in sync; serving"/, 20_000);
  bgpPort = await freePort('127.0.0.51');
  const created = await ctl(
    ['create', '-f', '-'],
    `apiVersion: projectcalico.org/v3
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
`,
  );
  expect(created).toMatchObject({ code: 0, stderr: '' });
}, 60_000);

afterAll(async () => {
  await group.stopAll();
  dir.remove();
}, 30_000);

/** The flags every agent here gets, whatever its TLS. */
const agentArgs = (node: string, address: string): string[] => [
  '--node', node, '--listen', '127.0.0.1:0', '--bgp-address', address, '--bgp-listen', 'node-address', '--store', store, '--topology', topology,
  '--hold-time', '9', '--status-interval', '1', '--peer-allow', '127.0.0.0/8',
];

describe('an agent without a client certificate the control plane trusts', () => {
  it('is refused in a log line naming the TLS failure, and writes nothing to the store', async () => {
    const before = await storeState();
    expect(before.nodes).toEqual([]);
    expect(Number(before.revision)).toBeGreaterThan(0);
    const cases = [
      // TLS to the servers but no client certificate: the server's TLS 1.3 alert says so.
      { node: 'nocert', address: '127.0.0.53', tls: ['--tls-ca', certs.ca], security: 'tls',
        err: /alert certificate required/,
        failure: 'client-certificate-required',
        hint: 'TLS: the server requires a client certificate; set --tls-cert and --tls-key (signed by its client CA) with --tls-ca',
      },
      // A client certificate from another CA: the server closes the connection after the
      // handshake without an alert, so all grpc-js can say is "Failed to connect" (or
      // ECONNRESET when the close wins the race with the client's read).
      {
        node: 'rogue',
        address: '127.0.0.54',
        tls: ['--tls-ca', certs.ca, '--tls-cert', certs.rogueCert, '--tls-key', certs.rogueKey],
        security: 'mtls',
        err: /Failed to connect|ECONNRESET/,
        failure: 'dropped-during-setup',
        hint: 'the server closed the connection during setup; if it serves TLS, set --tls-ca, and for mTLS --tls-cert/--tls-key its client CA signed',
      },
    ];
    const started = await Promise.all(cases.map(async (c) => ({ ...c, agent: await startService(group, 'agent', [...agentArgs(c.node, c.address), ...c.tls]) })));
    for (const c of started) {
      const out = (): string => c.agent.process.output();
      for (const peer of [['tabby-store', store], ['tabby-topology', topology]]) {
        expect(logLines(out(), /^gRPC client$/)).toContainEqual(expect.objectContaining({ peer: peer[0], address: peer[1], security: c.security }));
      }
      const refused = await eventually(`${c.node}: the "cannot register" line`, () => logLines(out(), /^cannot register the Node in the store/)[0], 20_000);
      expect(refused.level).toBe('warn');
      expect(String(refused.err)).toMatch(c.err);
      // What the runtime makes of it, and the hint the agent logs beside it (as ipam and topology do).
      expect(classifyDialFailure(String(refused.err))).toBe(c.failure);
      expect(refused.hint).toBe(c.hint);
      // The topology watch is refused the same way, and says so too.
      const watch = await eventually(`${c.node}: the "cannot follow" line`, () => logLines(out(), /^cannot follow the node configuration/)[0], 20_000);
      expect(watch).toMatchObject({ level: 'warn', hint: c.hint });
      // Still retrying, never registered.
      expect(out()).not.toMatch(/"msg":"Node registered"/);
      expect(out()).not.toMatch(/"msg":"following the node configuration"/);
    }
    // A few more registration attempts (200 ms, 400 ms, 800 ms ...) and periodic status
    // reports (every second) later, stop them: stopping reports NotReady, which fails too.
    await sleep(2000);
    for (const c of started) {
      await c.agent.process.stop();
      // A clean exit (not the SIGKILL after the grace period), though its last NotReady report failed too.
      expect(await c.agent.process.exited()).toEqual({ code: 0, signal: null });
      expect(c.agent.process.output()).not.toMatch(/"msg":"Node registered"/);
    }
    expect(await storeState()).toEqual(before);
  }, 60_000);

});

describe('agents with the CA and a peer certificate', () => {
  const agents = new Map<string, ServiceProcess>();

  beforeAll(async () => {
    // node1 by flags, node2 by the TABBY_TLS_* variables.
    agents.set('node1', await startService(group, 'agent', [...agentArgs('node1', '127.0.0.51'), ...tls]));
    agents.set(
      'node2',
      await startService(group, 'agent', agentArgs('node2', '127.0.0.52'), {
        env: { TABBY_TLS_CA: certs.ca, TABBY_TLS_CERT: certs.peerCert, TABBY_TLS_KEY: certs.peerKey, TABBY_TLS_CLIENT_CA: certs.ca },
      }),
    );
  }, 30_000);

  it('dial the store and topology over mTLS and register their Nodes', async () => {
    for (const [node, agent] of agents) {
      await agent.process.waitForLine(/"msg":"Node registered"/, 20_000);
      await agent.process.waitForLine(/"msg":"following the node configuration"/, 20_000);
      const clients = logLines(agent.process.output(), /^gRPC client$/);
      expect(clients).toContainEqual(expect.objectContaining({ peer: 'tabby-store', address: store, security: 'mtls' }));
      expect(clients).toContainEqual(expect.objectContaining({ peer: 'tabby-topology', address: topology, security: 'mtls' }));
      expect(agent.process.output()).not.toMatch(/cannot register the Node/);
      const got = await ctl(['get', 'node', node, '-o', 'json']);
      expect(got.code).toBe(0);
      const n = JSON.parse(got.stdout) as { spec: { bgp: { ipv4Address: string } } };
      expect(n.spec.bgp.ipv4Address).toBe(node === 'node1' ? '127.0.0.51/32' : '127.0.0.52/32');
    }
    expect((await storeState()).nodes).toEqual(['node1', 'node2']);
  }, 60_000);

  it('mesh with each other: Established in node status, read from the store and asked of each agent over mTLS', async () => {
    const up = (r: CliResult): boolean => r.code === 0 && / \| up +\| \S+ \| Established +\|/.test(r.stdout);
    for (const [node, peer] of [['node1', '127.0.0.52'], ['node2', '127.0.0.51']]) {
      const status = await eventually(`${node}'s mesh session Established in its NodeStatus`, async () => {
        const r = await ctl(['node', 'status', node]);
        return up(r) ? r : undefined;
      }, 45_000, 500);
      expect(status.stderr).toBe('');
      expect(status.stdout).toContain(`Tabby agent on ${node} is running.`);
      expect(status.stdout).toMatch(new RegExp(`\\| ${peer.replace(/\./g, '\\.')}:${bgpPort} +\\| node-to-node mesh \\| up +\\| \\S+ \\| Established +\\|`));

      const address = agents.get(node)!.address;
      const ns = JSON.parse((await ctl(['get', 'nodestatus', node, '-o', 'json'])).stdout) as { status: { agent: { address: string } } };
      expect(ns.status.agent.address).toBe(address);
      // The agent serves mTLS too: with the client certificate it answers the same table...
      const direct = await ctl(['node', 'status', node, '--agent', address]);
      expect(direct.code).toBe(0);
      expect(up(direct)).toBe(true);
      // ...and without one it refuses.
      const refused = await tabbyctl(['--tls-ca', certs.ca, 'node', 'status', node, '--agent', address], { cwd: dir.path });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('requires a client certificate');
    }
  }, 60_000);
});
