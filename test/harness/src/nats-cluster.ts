import path from 'node:path';
import { assertLoopback, freePort } from './loopback.js';
import { eventually, type ProcessGroup, type TestProcess } from './processes.js';
import { requireTool } from './tools.js';

/** One nats-server of a {@link NatsCluster}, on fixed loopback ports (kept across a restart). */
export interface NatsClusterNode {
  readonly name: string;
  /** `nats://127.0.0.1:PORT`: what clients dial. */
  readonly url: string;
  readonly port: number;
  /** Port of the cluster routes. */
  readonly clusterPort: number;
  /** Port of the HTTP monitoring endpoint (`/connz`, `/routez`). */
  readonly monitorPort: number;
  readonly process: TestProcess;
}

/** A NATS cluster of nats-server processes on loopback, every node routed to every other. */
export interface NatsCluster {
  readonly nodes: readonly NatsClusterNode[];
  /** Every node's client URL, comma-separated: the form `--nats` takes. */
  readonly urls: string;
  /** The node a client connection named `clientName` (nats.js `name`) is on now; undefined when none. */
  nodeOf(clientName: string): Promise<NatsClusterNode | undefined>;
  /** The names of the client connections of a node. */
  connections(node: NatsClusterNode): Promise<string[]>;
  /** `kill -9` of a node; resolves once it has exited. */
  kill(node: NatsClusterNode): Promise<void>;
  /** Starts a stopped node again on its ports and waits until it is routed to every other live node. */
  restart(node: NatsClusterNode): Promise<NatsClusterNode>;
}

interface NodeSpec {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly monitorPort: number;
}

async function monitor<T>(node: { host: string; monitorPort: number }, endpoint: string): Promise<T> {
  const res = await fetch(`http://${node.host}:${node.monitorPort}/${endpoint}`);
  if (!res.ok) throw new Error(`nats-server monitoring /${endpoint} on port ${node.monitorPort}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/**
 * Starts `size` nats-servers (default 3) on `host` (a loopback address) as one cluster: each
 * with its own client, route and monitoring ports, routes to every other node, logs under
 * `dir`. Resolves once every node is routed to every other. The processes belong to
 * `group`, which stops them by PID.
 */
export async function startNatsCluster(group: ProcessGroup, dir: string, opts: { size?: number; host?: string } = {}): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  const host = opts.host ?? '127.0.0.1';
  assertLoopback(host, 'nats host');
  const bin = requireTool('nats-server');
  const specs: NodeSpec[] = [];
  for (let i = 0; i < size; i++) {
    specs.push({ name: `nats${i + 1}`, host, port: await freePort(host), clusterPort: await freePort(host), monitorPort: await freePort(host) });
  }
  const clusterName = `tabby-test-${process.pid}`;
  const launch = (spec: NodeSpec): NatsClusterNode => {
    const routes = specs.filter((s) => s !== spec).map((s) => `nats://${s.host}:${s.clusterPort}`);
    const args = [
      '-a',
      spec.host,
      '-p',
      String(spec.port),
      '-m',
      String(spec.monitorPort),
      '-n',
      spec.name,
      '--cluster_name',
      clusterName,
      '--cluster',
      `nats://${spec.host}:${spec.clusterPort}`,
      ...(routes.length > 0 ? ['--routes', routes.join(',')] : []),
      '-l',
      path.join(dir, `${spec.name}.log`),
    ];
    const proc = group.start(`nats-server-${spec.name}`, bin, args);
    return { name: spec.name, url: `nats://${spec.host}:${spec.port}`, port: spec.port, clusterPort: spec.clusterPort, monitorPort: spec.monitorPort, process: proc };
  };
  const nodes = specs.map(launch);
  const alive = new Set(nodes.map((n) => n.name));
  const specOf = (node: NatsClusterNode): NodeSpec => {
    const spec = specs.find((s) => s.name === node.name);
    if (!spec) throw new Error(`${node.name} is no node of this cluster`);
    return spec;
  };
  const routedToLiveNodes = async (node: NatsClusterNode): Promise<boolean> => {
    const routez = await monitor<{ num_routes: number }>(specOf(node), 'routez');
    return routez.num_routes >= alive.size - 1;
  };
  const waitRouted = async (which: readonly NatsClusterNode[]): Promise<void> => {
    await eventually(
      `nats-server ${which.map((n) => n.name).join(', ')} routed to the other live nodes`,
      async () => {
        for (const n of which) {
          const exit = n.process.child.exitCode ?? n.process.child.signalCode;
          if (exit !== null) throw new Error(`${n.name} exited (${exit}): ${n.process.output().slice(-2000)}`);
          if (!(await routedToLiveNodes(n))) return false;
        }
        return true;
      },
      20_000,
      100,
    );
  };
  await waitRouted(nodes);

  const cluster: NatsCluster = {
    nodes,
    urls: nodes.map((n) => n.url).join(','),
    async connections(node) {
      const connz = await monitor<{ connections?: { name?: string }[] }>(specOf(node), 'connz?limit=1024');
      return (connz.connections ?? []).map((c) => c.name ?? '');
    },
    async nodeOf(clientName) {
      for (const n of nodes) {
        if (!alive.has(n.name)) continue;
        if ((await cluster.connections(n)).includes(clientName)) return n;
      }
      return undefined;
    },
    async kill(node) {
      alive.delete(node.name);
      node.process.signal('SIGKILL');
      await node.process.exited();
    },
    async restart(node) {
      const again = launch(specOf(node));
      const i = nodes.findIndex((n) => n.name === node.name);
      if (i >= 0) nodes[i] = again;
      alive.add(again.name);
      await waitRouted(nodes.filter((n) => alive.has(n.name)));
      return again;
    },
  };
  return cluster;
}
