import path from 'node:path';
import type { NatsServer } from './nats.js';
import { FABRIC_RANGE, Fabric, startNatsIn, startServiceIn } from './netns.js';
import { REPO_ROOT, type ServiceProcess } from './services.js';
import { tempDir } from './temp.js';

/**
 * The shared set-up of the tests that run Tabby itself in a fabric of network namespaces: a
 * fabric and a temporary directory removed together ({@link fabricTestbed}), and a control
 * plane in one namespace with agents in others ({@link NetnsControlPlane}). Each test keeps
 * its own topology (namespaces, links, addresses) and builds it before starting anything here;
 * {@link phaseLogger} times its set-up.
 */

/** A fabric and the temporary directory its processes write to (configs, logs, data). */
export interface FabricTestbed {
  readonly fabric: Fabric;
  readonly dir: { readonly path: string; remove(): void };
  /**
   * Stops every process of the fabric (by PID), deletes its namespaces, then removes the
   * directory, also when the fabric's cleanup throws (which it then rethrows). Idempotent.
   */
  cleanup(): Promise<void>;
}

/**
 * A new fabric and a fresh temporary directory named `dirPrefix…`. Register `cleanup` before
 * building anything (`afterAll(testbed.cleanup, 60_000)`), so namespaces and processes go
 * even when set-up fails.
 */
export function fabricTestbed(dirPrefix: string): FabricTestbed {
  const fabric = new Fabric();
  const dir = tempDir(dirPrefix);
  return {
    fabric,
    dir,
    cleanup: async () => {
      try {
        await fabric.cleanup();
      } finally {
        dir.remove();
      }
    },
  };
}

/**
 * A log of a long set-up's phases (for beforeAll): each call prints the milliseconds since
 * `phaseLogger()` was called, then `what`.
 */
export function phaseLogger(): (what: string) => void {
  const t0 = Date.now();
  return (what) => console.log(`${String(Date.now() - t0).padStart(6)} ms  ${what}`);
}

/** tabbyctl's built entry point (`packages/cli/dist/main.js`). */
export const TABBYCTL_BIN = path.join(REPO_ROOT, 'packages', 'cli', 'dist', 'main.js');

/** Where a {@link NetnsControlPlane} listens: the default ports of each service on its one address. */
export interface ControlPlaneEndpoints {
  /** `ADDRESS:50051` */
  readonly store: string;
  /** `ADDRESS:50052` */
  readonly ipam: string;
  /** `ADDRESS:50053` */
  readonly topology: string;
  /** `nats://ADDRESS:4222` */
  readonly nats: string;
}

/** The processes {@link NetnsControlPlane.start} started. */
export interface ControlPlaneProcesses {
  readonly nats: NatsServer;
  readonly store: ServiceProcess;
  readonly ipam: ServiceProcess;
  readonly topology: ServiceProcess;
}

/** One tabby-agent started by {@link NetnsControlPlane.startAgent}. */
export interface NetnsAgentOptions {
  /** `--node`; also names the process (`agent-NODE`) and its log file (`agent-NODE.log`). */
  readonly node: string;
  /** The node's namespace; default `fabric.ns(node)`. */
  readonly namespace?: string;
  /** `--bgp-address`. */
  readonly bgpAddress: string;
  /** `--bgp-ipv6-address`, for a dual-stack node. */
  readonly bgpIpv6Address?: string;
  /** The address of its gRPC `--listen` (port 50054); default `bgpAddress`. */
  readonly listenAddress?: string;
  /** `--peer-allow`; default the fabric's IPv4 range, 198.18.0.0/15. */
  readonly peerAllow?: string;
}

/** A peer's row of `tabbyctl node status NODE` (the calicoctl table). */
export interface NodeStatusRow {
  readonly state: string;
  readonly since: string;
  readonly info: string;
}

/**
 * A Tabby control plane in one namespace of a fabric, on one of its addresses: nats-server,
 * tabby-store, tabby-ipam and tabby-topology on their default ports ({@link endpoints}),
 * tabbyctl run in that namespace, and tabby-agents started in node namespaces with the linux
 * data plane, each guarded to its own namespace (`TABBY_NETNS_GUARD`). Every process belongs
 * to the fabric (stopped by its cleanup); data and logs go to `dir`.
 *
 * The namespace and the address must exist (the test's own topology) before {@link start}.
 */
export class NetnsControlPlane {
  readonly endpoints: ControlPlaneEndpoints;

  /**
   * @param fabric the fabric every process is started in
   * @param namespace the control plane's namespace (full name, `fabric.ns('ctl')`)
   * @param address its IPv4 address there, inside the fabric range
   * @param dir where data directories (`store`, `ipam`) and logs (`NAME.log`) go
   */
  constructor(
    readonly fabric: Fabric,
    readonly namespace: string,
    readonly address: string,
    readonly dir: string,
  ) {
    this.endpoints = { store: `${address}:50051`, ipam: `${address}:50052`, topology: `${address}:50053`, nats: `nats://${address}:4222` };
  }

  /** Starts nats-server, then tabby-store, then tabby-ipam and tabby-topology; resolves once each listens. */
  async start(): Promise<ControlPlaneProcesses> {
    const { store, ipam, topology, nats } = this.endpoints;
    const log = (s: string): { logFile: string } => ({ logFile: path.join(this.dir, `${s}.log`) });
    const natsServer = await startNatsIn(this.fabric, this.namespace, this.dir, this.address, 4222);
    const storeService = await startServiceIn(this.fabric, this.namespace, 'store', ['--listen', store, '--data-dir', path.join(this.dir, 'store'), '--nats', nats], log('store'));
    // Both follow the store; topology reaches ipam when it is up.
    const [ipamService, topologyService] = await Promise.all([
      startServiceIn(this.fabric, this.namespace, 'ipam', ['--listen', ipam, '--data-dir', path.join(this.dir, 'ipam'), '--store', store, '--nats', nats], log('ipam')),
      startServiceIn(this.fabric, this.namespace, 'topology', ['--listen', topology, '--store', store, '--ipam', ipam, '--nats', nats], log('topology')),
    ]);
    return { nats: natsServer, store: storeService, ipam: ipamService, topology: topologyService };
  }

  /**
   * Starts tabby-agent for a node (`--dataplane linux`, hold time 9 s, status every 2 s) and
   * resolves once it listens. Call again after the old one stopped to restart it.
   */
  startAgent(opts: NetnsAgentOptions): Promise<ServiceProcess> {
    const ns = opts.namespace ?? this.fabric.ns(opts.node);
    const { store, topology, nats } = this.endpoints;
    const args = ['--node', opts.node, '--bgp-address', opts.bgpAddress];
    if (opts.bgpIpv6Address !== undefined) args.push('--bgp-ipv6-address', opts.bgpIpv6Address);
    args.push('--listen', `${opts.listenAddress ?? opts.bgpAddress}:50054`, '--store', store, '--topology', topology, '--nats', nats);
    args.push('--peer-allow', opts.peerAllow ?? FABRIC_RANGE, '--hold-time', '9', '--status-interval', '2', '--dataplane', 'linux');
    return startServiceIn(this.fabric, ns, 'agent', args, {
      name: `agent-${opts.node}`,
      env: { TABBY_NETNS_GUARD: ns },
      logFile: path.join(this.dir, `agent-${opts.node}.log`),
    });
  }

  /** Runs tabbyctl against this control plane (in its namespace) with `input` on stdin; resolves with stdout, rejects on a non-zero exit. */
  async tabbyctl(args: readonly string[], input?: string): Promise<string> {
    const { store, ipam, topology } = this.endpoints;
    const r = await this.fabric.exec(this.namespace, process.execPath, [TABBYCTL_BIN, '--store', store, '--ipam', ipam, '--topology', topology, ...args], { input, timeoutMs: 30_000 });
    return r.stdout;
  }

  /** `peer`'s row of `tabbyctl node status NODE`, or undefined while the table has none. */
  async nodeStatusRow(node: string, peer: string): Promise<NodeStatusRow | undefined> {
    const out = await this.tabbyctl(['node', 'status', node]);
    const row = out.split('\n').find((l) => l.startsWith(`| ${peer} `));
    if (!row) return undefined;
    const cells = row.split('|').map((c) => c.trim());
    // | PEER ADDRESS | PEER TYPE | STATE | SINCE | INFO |
    return { state: cells[3] ?? '', since: cells[4] ?? '', info: cells[5] ?? '' };
  }
}
