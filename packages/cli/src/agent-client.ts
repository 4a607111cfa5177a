import type { ChannelCredentials, status } from '@grpc/grpc-js';
import { AgentClient as GrpcAgentClient, type AgentStatusResponse, type RoutesResponse } from '@tabby/proto';
import { CLIENT_CHANNEL_OPTIONS, callUnary, channelCredentials, isConfigError, isGrpcError, type ClientTlsFiles } from '@tabby/runtime';
import { CliError } from './errors.js';
import { connectionFailure, type ServiceTarget } from './store-client.js';

const TIMEOUT_MS = 10_000;

/** Where a node's agent serves gRPC unless told otherwise (tabby-agent's --listen default). */
export const DEFAULT_AGENT = '127.0.0.1:50054';

export const AGENT_TARGET: ServiceTarget = { what: 'agent', bin: 'tabby-agent', flag: '--agent', env: 'TABBY_AGENT_ADDR' };

/** A failed agent call: the agent's message and its gRPC code. */
export class AgentCallError extends Error {
  override readonly name = 'AgentCallError';
  constructor(
    message: string,
    readonly code: status,
  ) {
    super(message);
  }
}

export function isAgentCallError(err: unknown): err is AgentCallError {
  return err instanceof AgentCallError;
}

/** The calls of a node's agent that tabbyctl makes. */
export interface AgentApi {
  status(): Promise<AgentStatusResponse>;
  routes(family: string, prefix: string): Promise<RoutesResponse>;
  close(): void;
}

/**
 * One node's tabby-agent as tabbyctl uses it (`--agent ADDR`, with the store's TLS files):
 * promises, the agent's messages, one line when unreachable.
 */
export class AgentClient implements AgentApi {
  private readonly client: GrpcAgentClient;

  constructor(
    readonly address: string,
    tls: ClientTlsFiles,
  ) {
    let creds: ChannelCredentials;
    try {
      creds = channelCredentials(tls);
    } catch (err) {
      if (isConfigError(err)) throw new CliError(err.message);
      throw err;
    }
    this.client = new GrpcAgentClient(address, creds, { ...CLIENT_CHANNEL_OPTIONS, 'grpc.max_reconnect_backoff_ms': 1000 });
  }

  private async call<Req, Res>(method: Parameters<typeof callUnary<Req, Res>>[0], req: Req): Promise<Res> {
    try {
      return await callUnary(method, req, { timeoutMs: TIMEOUT_MS });
    } catch (err) {
      if (!isGrpcError(err)) throw err;
      throw connectionFailure(err, this.address, AGENT_TARGET, TIMEOUT_MS) ?? new AgentCallError(err.details, err.code);
    }
  }

  status(): Promise<AgentStatusResponse> {
    return this.call(this.client.status.bind(this.client), {});
  }
  routes(family: string, prefix: string): Promise<RoutesResponse> {
    return this.call(this.client.routes.bind(this.client), { family, prefix });
  }
  close(): void {
    this.client.close();
  }
}
