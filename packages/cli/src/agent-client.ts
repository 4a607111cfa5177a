import { AgentClient as GrpcAgentClient, type AgentStatusResponse, type RoutesResponse } from '@tabby/proto';
import type { callUnary } from '@tabby/runtime';
import { type ClientTlsFiles } from '@tabby/runtime';
import { CLI_CHANNEL_OPTIONS, ServiceCallError, callService, cliCredentials, type ServiceTarget } from './service-call.js';

const TIMEOUT_MS = 10_000;

/** Where a node's agent serves gRPC unless told otherwise (tabby-agent's --listen default). */
export const DEFAULT_AGENT = '127.0.0.1:50054';

export const AGENT_TARGET: ServiceTarget = { what: 'agent', bin: 'tabby-agent', flag: '--agent', env: 'TABBY_AGENT_ADDR' };

/** A failed agent call: the agent's message and its gRPC code. */
export class AgentCallError extends ServiceCallError {
  override readonly name = 'AgentCallError';
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
    this.client = new GrpcAgentClient(address, cliCredentials(tls), CLI_CHANNEL_OPTIONS);
  }

  private call<Req, Res>(method: Parameters<typeof callUnary<Req, Res>>[0], req: Req): Promise<Res> {
    return callService(method, req, { address: this.address, target: AGENT_TARGET, timeoutMs: TIMEOUT_MS }, (message, code) => new AgentCallError(message, code));
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
