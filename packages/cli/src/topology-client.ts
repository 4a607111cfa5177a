import { dialTopology } from '@tabby/client';
import type { TopologyClient as GrpcTopologyClient, ExplainResponse, ListPeeringsResponse, NodeConfig, PreviewResponse, Resource, TopologyCheckResponse } from '@tabby/proto';
import { grpcTarget, isConfigError, type callUnary } from '@tabby/runtime';
import type { ClientConfig } from './config.js';
import { CliError } from './errors.js';
import { ServiceCallError, callService, cliDial, type ServiceTarget } from './service-call.js';

const TIMEOUT_MS = 15_000;
/** Preview and check compile and analyse the whole cluster: give them longer. */
const ANALYSIS_TIMEOUT_MS = 120_000;

export const TOPOLOGY_TARGET: ServiceTarget = { what: 'topology service', bin: 'tabby-topology', flag: '--topology', env: 'TABBY_TOPOLOGY_ADDR' };

/** A failed topology call: the service's message and its gRPC code. */
export class TopologyCallError extends ServiceCallError {
  override readonly name = 'TopologyCallError';
}

export function isTopologyCallError(err: unknown): err is TopologyCallError {
  return err instanceof TopologyCallError;
}

/** The calls of tabby-topology that tabbyctl makes (what commands depend on; tests give fakes). */
export interface TopologyApi {
  nodeConfig(node: string): Promise<NodeConfig>;
  peerings(node?: string): Promise<ListPeeringsResponse>;
  explain(node: string, peer: string): Promise<ExplainResponse>;
  preview(apply: readonly Resource[], remove: readonly Resource[]): Promise<PreviewResponse>;
  check(): Promise<TopologyCheckResponse>;
}

/** The grpc-js target of the topology address (one address, or replicas comma-separated); a bad list is one CLI error line. */
export function topologyTarget(address: string): string {
  try {
    return grpcTarget(address, 'topology address');
  } catch (err) {
    if (isConfigError(err)) throw new CliError(err.message);
    throw err;
  }
}

/**
 * tabby-topology as tabbyctl uses it: promises, the service's messages, one line when
 * unreachable. Replicas (a comma-separated address list) are balanced round-robin over the
 * live ones, so a dead replica does not fail a command.
 */
export class TopologyClient implements TopologyApi {
  private readonly client: GrpcTopologyClient;

  constructor(private readonly config: ClientConfig) {
    this.client = cliDial(dialTopology, config.topology, config.tls, 'topology address', 'always');
  }

  private call<Req, Res>(method: Parameters<typeof callUnary<Req, Res>>[0], req: Req, timeoutMs = TIMEOUT_MS): Promise<Res> {
    return callService(method, req, { address: this.config.topology, target: TOPOLOGY_TARGET, timeoutMs }, (message, code) => new TopologyCallError(message, code));
  }

  nodeConfig(node: string): Promise<NodeConfig> {
    return this.call(this.client.getNodeConfig.bind(this.client), { node }).then((r) => r.config as NodeConfig);
  }
  peerings(node = ''): Promise<ListPeeringsResponse> {
    return this.call(this.client.listPeerings.bind(this.client), { node });
  }
  explain(node: string, peer: string): Promise<ExplainResponse> {
    return this.call(this.client.explain.bind(this.client), { node, peer });
  }
  preview(apply: readonly Resource[], remove: readonly Resource[]): Promise<PreviewResponse> {
    return this.call(this.client.preview.bind(this.client), { apply: [...apply], delete: [...remove] }, ANALYSIS_TIMEOUT_MS);
  }
  check(): Promise<TopologyCheckResponse> {
    return this.call(this.client.check.bind(this.client), {}, ANALYSIS_TIMEOUT_MS);
  }
  close(): void {
    this.client.close();
  }
}
