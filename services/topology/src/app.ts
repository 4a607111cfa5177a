import { BlockFollower, StoreFollower, dialIpam, dialStore } from '@tabby/client';
import { TopologyService, loadDescriptorSet } from '@tabby/proto';
import {
  GrpcServer,
  componentLogger,
  optionalMetricsServer,
  serviceBus,
  type ClientTlsFiles,
  type EventBus,
  type HostPort,
  type OptionalMetricsServer,
  type Logger,
  type NatsSecurity,
  type ServerTlsFiles,
  type ServiceMetrics,
} from '@tabby/runtime';
import { AnalysisWorker, analysisHooksFromEnv } from './analysis.js';
import { TOPOLOGY_KINDS } from './compile/compiler.js';
import { topologyService } from './service.js';
import { TopologyState } from './state.js';
import { createTopologyMetrics } from './topology-metrics.js';

export interface TopologyAppOptions {
  readonly listen: HostPort;
  /** Address of tabby-store, or its replicas as `IP:PORT,IP:PORT`. */
  readonly store: string;
  /** How to dial the store (plaintext when absent); see `serviceDialTls`. */
  readonly storeTls?: ClientTlsFiles;
  /** Address of tabby-ipam (or its replicas as `IP:PORT,IP:PORT`); without it nodes originate no prefixes. */
  readonly ipam?: string;
  readonly ipamTls?: ClientTlsFiles;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** NATS URL; or give `bus` directly (the all-in-one uses an in-process bus). */
  readonly natsUrl?: string;
  /** NATS credentials and TLS (from `natsSecurity` of the --nats-* flags). */
  readonly natsSecurity?: NatsSecurity;
  readonly bus?: EventBus;
  readonly metricsAddress?: HostPort;
  readonly tls?: ServerTlsFiles;
  readonly blockResyncMs?: number;
  readonly callLogLevel?: 'info' | 'debug';
}

/** A running topology service. */
export interface TopologyApp {
  readonly port: number;
  readonly metricsPort: number | undefined;
  readonly state: TopologyState;
  /** Resolves once the store (and IPAM) have been listed and the first compile is done. */
  readonly synced: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts tabby-topology: serves gRPC at once (health NOT_SERVING, calls UNAVAILABLE) and
 * follows the store (and IPAM blocks); once everything is listed it compiles every node
 * and serves. It keeps following through store, IPAM and NATS outages, serving its last
 * view meanwhile.
 */
export async function startTopology(opts: TopologyAppOptions): Promise<TopologyApp> {
  const log = opts.logger;
  const metrics = createTopologyMetrics(opts.metrics.registry);
  const storeClient = dialStore({ address: opts.store, tls: opts.storeTls, flag: '--store', logger: log });
  const ipamClient = opts.ipam ? dialIpam({ address: opts.ipam, tls: opts.ipamTls, flag: '--ipam', logger: log }) : undefined;

  const events = await serviceBus({ bus: opts.bus, natsUrl: opts.natsUrl, natsSecurity: opts.natsSecurity, name: 'tabby-topology', logger: log });
  const bus = events.bus;
  const follower = new StoreFollower({ client: storeClient, kinds: TOPOLOGY_KINDS, logger: componentLogger(log, 'follower') });
  // Blocks come from IPAM's WatchBlocks stream (any replica); NATS only carries our node-config notifications.
  const blocks = ipamClient ? new BlockFollower({ client: ipamClient, logger: componentLogger(log, 'blocks'), resyncIntervalMs: opts.blockResyncMs }) : undefined;
  const storeRevision = (): number => Math.max(0, ...TOPOLOGY_KINDS.map((k) => follower.revision(k)));
  const state = new TopologyState({
    logger: componentLogger(log, 'compiler'),
    metrics,
    bus,
    revision: () => storeRevision() + (blocks?.revision ?? 0),
  });
  const analysis = new AnalysisWorker({ logger: componentLogger(log, 'analysis'), snapshot: () => state.snapshot(), hooks: analysisHooksFromEnv(process.env) });
  state.onInputs((inputs) => analysis.onInputs(inputs));
  analysis.start();
  follower.onChange((events) => state.onResources(events));
  blocks?.onChange((changes) => state.onBlocks(changes));

  const server = new GrpcServer({
    logger: componentLogger(log, 'grpc'),
    metrics: opts.metrics,
    tls: opts.tls,
    descriptorSets: [loadDescriptorSet()],
    callLogLevel: opts.callLogLevel,
  });
  server.addService('tabby.v1.Topology', TopologyService, topologyService(state, analysis));
  let metricsServer: OptionalMetricsServer;
  let port: number;
  try {
    port = await server.listen(opts.listen);
    metricsServer = await optionalMetricsServer(opts.metricsAddress, opts.metrics.registry, log);
  } catch (err) {
    await server.shutdown(0);
    await analysis.stop();
    await events.close();
    storeClient.close();
    ipamClient?.close();
    throw err;
  }
  let stopping = false;
  const synced = (async () => {
    await Promise.all([follower.start(), blocks?.start()]);
    if (stopping) return;
    state.markSynced();
    analysis.synced();
    server.setServing(true);
    log.info({ storeRevision: storeRevision(), blockRevision: blocks?.revision, nodes: state.compiler.allConfigs().size, ipam: Boolean(blocks) }, 'in sync; serving');
  })();
  synced.catch((err: unknown) => log.error({ err }, 'following the store failed'));
  return {
    port,
    metricsPort: metricsServer.port,
    state,
    synced,
    stop: async () => {
      stopping = true;
      await server.shutdown();
      await analysis.stop();
      await follower.stop();
      await blocks?.stop();
      storeClient.close();
      ipamClient?.close();
      await events.close();
      await metricsServer.close();
    },
  };
}
