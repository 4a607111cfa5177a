import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { assertLoopback, freePort } from './loopback.js';
import { eventually, type ProcessGroup, type TestProcess } from './processes.js';
import { requireTool } from './tools.js';

const run = promisify(execFile);

/** One etcd member started for a test, listening on a loopback address only. */
export interface EtcdMember {
  readonly name: string;
  /** `http://127.0.0.1:PORT`: what clients dial. */
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly process: TestProcess;
}

/** A cluster of etcd members (one or more) on loopback. */
export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Every member's client URL, comma-separated: the form `--etcd-endpoints` takes. */
  readonly endpoints: string;
  /** Runs `etcdctl` (API v3) against the cluster's endpoints; returns stdout. */
  etcdctl(args: readonly string[]): Promise<string>;
  /** The member that is leader now (asks each member's status). */
  leader(): Promise<EtcdMember>;
  /** Starts a stopped member again with its data directory (same name, same URLs). */
  restart(member: EtcdMember): Promise<EtcdMember>;
}

interface MemberSpec {
  readonly name: string;
  readonly host: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
}

function launch(group: ProcessGroup, spec: MemberSpec, initialCluster: string, state: 'new' | 'existing', token: string): EtcdMember {
  const bin = requireTool('etcd', 'etcd-server');
  const clientUrl = `http://${spec.host}:${spec.clientPort}`;
  const peerUrl = `http://${spec.host}:${spec.peerPort}`;
  const args = [
    '--name',
    spec.name,
    '--data-dir',
    spec.dataDir,
    '--listen-client-urls',
    clientUrl,
    '--advertise-client-urls',
    clientUrl,
    '--listen-peer-urls',
    peerUrl,
    '--initial-advertise-peer-urls',
    peerUrl,
    '--initial-cluster',
    initialCluster,
    '--initial-cluster-state',
    state,
    '--initial-cluster-token',
    token,
    // No metrics or pprof listeners beyond the client URL; quick elections for tests.
    '--heartbeat-interval',
    '50',
    '--election-timeout',
    '500',
    '--logger',
    'zap',
    '--log-outputs',
    'stderr',
  ];
  const proc = group.start(`etcd-${spec.name}`, bin, args);
  return { name: spec.name, clientUrl, peerUrl, dataDir: spec.dataDir, process: proc };
}

/**
 * Starts `size` etcd members (Debian's etcd-server) on `host` (a loopback address), each with a
 * data directory under `dir`, as one cluster, and waits until it has a leader and takes writes.
 * The processes belong to `group`, which stops them by PID.
 */
export async function startEtcdCluster(group: ProcessGroup, dir: string, opts: { size?: number; host?: string } = {}): Promise<EtcdCluster> {
  const size = opts.size ?? 1;
  const host = opts.host ?? '127.0.0.1';
  assertLoopback(host, 'etcd host');
  const specs: MemberSpec[] = [];
  for (let i = 0; i < size; i++) {
    specs.push({ name: `etcd${i + 1}`, host, clientPort: await freePort(host), peerPort: await freePort(host), dataDir: path.join(dir, `etcd${i + 1}`) });
  }
  const initialCluster = specs.map((s) => `${s.name}=http://${s.host}:${s.peerPort}`).join(',');
  const token = `tabby-test-${process.pid}-${Date.now()}`;
  const members = specs.map((s) => launch(group, s, initialCluster, 'new', token));
  const exits = new Map<string, string>();
  for (const m of members) void m.process.exited().then(({ code, signal }) => exits.set(m.name, `code ${code}, signal ${signal}`));
  const endpoints = members.map((m) => m.clientUrl).join(',');
  const etcdctlBin = requireTool('etcdctl', 'etcd-client');

  const etcdctl = async (args: readonly string[], endpointList = endpoints): Promise<string> => {
    const { stdout } = await run(etcdctlBin, ['--endpoints', endpointList, '--dial-timeout', '2s', '--command-timeout', '5s', ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  };

  const cluster: EtcdCluster = {
    members,
    endpoints,
    etcdctl: (args) => etcdctl(args),
    async leader() {
      const out = await etcdctl(['endpoint', 'status', '-w', 'json']);
      const rows = JSON.parse(out) as { Endpoint: string; Status: { header: { member_id: number | string }; leader: number | string } }[];
      const row = rows.find((r) => String(r.Status.header.member_id) === String(r.Status.leader));
      const m = members.find((x) => x.clientUrl === row?.Endpoint);
      if (!m) throw new Error(`no etcd member is leader: ${out}`);
      return m;
    },
    async restart(member) {
      const spec = specs.find((s) => s.name === member.name);
      if (!spec) throw new Error(`${member.name} is no member of this cluster`);
      const again = launch(group, spec, initialCluster, 'existing', token);
      const i = members.indexOf(member);
      if (i >= 0) members[i] = again;
      await eventually(`etcd ${member.name} to serve again`, async () => (await etcdctl(['endpoint', 'health'], again.clientUrl).then(() => true, () => false)) || undefined, 30_000, 100);
      return again;
    },
  };

  await eventually(
    `etcd (${size} member${size === 1 ? '' : 's'}) to elect a leader and take a write`,
    async () => {
      for (const m of members) {
        const how = exits.get(m.name);
        if (how !== undefined) throw new Error(`etcd ${m.name} exited (${how}) while starting: ${m.process.output().slice(-2000)}`);
      }
      return (await etcdctl(['put', '/tabby-test/ready', 'yes']).then(() => true, () => false)) || undefined;
    },
    30_000,
    100,
  );
  await etcdctl(['del', '/tabby-test/ready']);
  return cluster;
}
