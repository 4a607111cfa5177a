/**
 * The cluster both tabby-ui tests run against, every process real and in the caller's
 * ProcessGroup: nats-server, tabby-store, tabby-ipam, tabby-topology, the pool
 * default-ipv4-ippool (192.168.0.0/16), and one tabby-agent per node in a full mesh on its
 * loopback address (one BGP port for all, from freePort; hold time 9 s, status every 1 s,
 * peers only from 127.0.0.0/8). tabbyctl is pointed at it.
 */
import path from 'node:path';
import { REPO_ROOT, collectCommand, freePort, startNats, startService, type CommandResult, type ServiceProcess } from '@tabby/harness';
import type { ProcessGroup } from '@tabby/harness';

export interface UiCluster {
  readonly natsUrl: string;
  readonly storeAddress: string;
  /** tabby-store's arguments: a restart with them keeps its port and data directory. */
  readonly storeArgs: readonly string[];
  readonly ipam: string;
  readonly topology: string;
  readonly bgpPort: number;
  /** The running tabby-store (a test that restarts it puts the new one here). */
  store: ServiceProcess;
  readonly agents: Map<string, ServiceProcess>;
  /** tabbyctl against this cluster (HOME in `dir`, no config file, TZ=UTC); resolves whatever its exit code. */
  tabbyctl(args: readonly string[], input?: string): Promise<CommandResult>;
}

const TABBYCTL = path.join(REPO_ROOT, 'packages/cli/dist/main.js');

/** Starts the cluster of `nodes` ([name, loopback address] pairs) with its data in `dir`. */
export async function startUiCluster(group: ProcessGroup, dir: string, nodes: readonly (readonly [string, string])[]): Promise<UiCluster> {
  const nats = await startNats(group, dir);
  const [storePort, ipamPort, topologyPort] = [await freePort('127.0.0.1'), await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  const bgpPort = await freePort(nodes[0][1]);
  const storeAddress = `127.0.0.1:${storePort}`;
  const ipam = `127.0.0.1:${ipamPort}`;
  const topology = `127.0.0.1:${topologyPort}`;
  const storeArgs = ['--listen', storeAddress, '--data-dir', `${dir}/store`, '--nats', nats.url];
  const store = await startService(group, 'store', storeArgs);
  await startService(group, 'ipam', ['--listen', ipam, '--data-dir', `${dir}/ipam`, '--store', storeAddress, '--nats', nats.url]);
  await startService(group, 'topology', ['--listen', topology, '--store', storeAddress, '--ipam', ipam, '--nats', nats.url]);
  const env = { HOME: dir, TABBY_CONFIG: '', TZ: 'UTC', TABBY_STORE_ADDR: storeAddress, TABBY_IPAM_ADDR: ipam };
  const tabbyctl = (args: readonly string[], input?: string): Promise<CommandResult> =>
    collectCommand(process.execPath, [TABBYCTL, ...args], {
      env: { ...process.env, ...env },
      input,
      timeoutMs: 60_000,
      allowFailure: true,
      failure: (r) => new Error(`tabbyctl ${args.join(' ')} failed (${r.code}): ${r.stderr}`),
    });
  const setup = await tabbyctl(
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
  if (setup.code !== 0) throw new Error(`tabbyctl create of the BGPConfiguration and the pool failed (${setup.code}): ${setup.stderr}`);
  const agents = new Map<string, ServiceProcess>();
  for (const [node, address] of nodes) {
    const args = ['--node', node, '--listen', '127.0.0.1:0', '--bgp-address', address, '--bgp-listen', 'node-address', '--store', storeAddress, '--topology', topology, '--nats', nats.url];
    agents.set(node, await startService(group, 'agent', [...args, '--hold-time', '9', '--status-interval', '1', '--peer-allow', '127.0.0.0/8']));
  }
  return { natsUrl: nats.url, storeAddress, storeArgs, ipam, topology, bgpPort, store, agents, tabbyctl };
}
