import type { ChannelCredentials, status } from '@grpc/grpc-js';
import {
  TopologyClient as GrpcTopologyClient,
  type ExplainResponse,
  type ListPeeringsResponse,
  type NodeConfig,
  type PreviewResponse,
  type Resource,
  type TopologyCheckResponse,
} from '@tabby/proto';
import { CLIENT_CHANNEL_OPTIONS, callUnary, channelCredentials, isConfigError, isGrpcError } from '@tabby/runtime';
import type { ClientConfig } from './config.js';
import { CliError } from './errors.js';
import { connectionFailure, type ServiceTarget } from './store-client.js';

const TIMEOUT_MS = 15_000;
/** Preview and check compile and analyse the whole cluster: give them longer. */
const ANALYSIS_TIMEOUT_MS = 120_000;

export const TOPOLOGY_TARGET: ServiceTarget = { what: 'topology service', bin: 'tabby-topology', flag: '--topology', env: 'TABBY_TOPOLOGY_ADDR' };

/** A failed topology call: the service's message and its gRPC code. */
export class TopologyCallError extends Error {
  override readonly name = 'TopologyCallError';
  constructor(
    message: string,
    readonly code: status,
  ) {
    super(message);
  }
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

/** tabby-topology as tabbyctl uses it: promises, the service's messages, one line when unreachable. */
export class TopologyClient implements TopologyApi {
  private readonly client: GrpcTopologyClient;

  constructor(private readonly config: ClientConfig) {
    let creds: ChannelCredentials;
    try {
      creds = channelCredentials(config.tls);
    } catch (err) {
      if (isConfigError(err)) throw new CliError(err.message);
      throw err;
    }
    this.client = new GrpcTopologyClient(config.topology, creds, { ...CLIENT_CHANNEL_OPTIONS, 'grpc.max_reconnect_backoff_ms': 1000 });
  }

  private async call<Req, Res>(method: Parameters<typeof callUnary<Req, Res>>[0], req: Req, timeoutMs = TIMEOUT_MS): Promise<Res> {
    try {
      return await callUnary(method, req, { timeoutMs });
    } catch (err) {
      if (!isGrpcError(err)) throw err;
      throw connectionFailure(err, this.config.topology, TOPOLOGY_TARGET, timeoutMs) ?? new TopologyCallError(err.details, err.code);
    }
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
