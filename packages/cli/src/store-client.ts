import { status, type ChannelCredentials } from '@grpc/grpc-js';
import { ResourceStoreClient, type Resource } from '@tabby/proto';
import { CLIENT_CHANNEL_OPTIONS, callUnary, channelCredentials, isConfigError, isGrpcError } from '@tabby/runtime';
import type { ClientConfig } from './config.js';
import { CliError } from './errors.js';

const TIMEOUT_MS = 15_000;

/** A failed store call: the store's message (Calico's text) and its gRPC code. */
export class StoreCallError extends Error {
  override readonly name = 'StoreCallError';
  constructor(
    message: string,
    readonly code: status,
  ) {
    super(message);
  }
}

export function isStoreCallError(err: unknown): err is StoreCallError {
  return err instanceof StoreCallError;
}

/** A service tabbyctl talks to, as its connection errors name it. */
export interface ServiceTarget {
  /** `store`, `ipam`: "the Tabby store at ...". */
  readonly what: string;
  readonly bin: string;
  readonly flag: string;
  readonly env: string;
}

export const STORE_TARGET: ServiceTarget = { what: 'store', bin: 'tabby-store', flag: '--store', env: 'TABBY_STORE_ADDR' };

/** Why a connection failed, in words an operator can act on (one line). */
export function unreachableReason(details: string, t: ServiceTarget = STORE_TARGET): string {
  const d = details.replace(/^No connection established\. Last error: /, '');
  if (/certificate required/i.test(d)) return `the ${t.what} requires a client certificate: set --tls-cert and --tls-key`;
  if (/unknown ca|self.signed|unable to (get|verify)|certificate verify failed/i.test(d)) return `the ${t.what}'s certificate is not signed by the CA of --tls-ca`;
  if (/wrong version number|packet length too long|http\/1/i.test(d)) return `TLS mismatch: the ${t.what} does not serve TLS, drop --tls-ca`;
  if (/Hostname\/IP does not match|altnames/i.test(d)) return `the ${t.what}'s certificate does not name this address`;
  if (/ECONNREFUSED/.test(d)) return `connection refused; is ${t.bin} running? Set the address with ${t.flag} or ${t.env}`;
  if (/Connection dropped|ECONNRESET|^Failed to connect/i.test(d)) return `the ${t.what} closed the connection during setup; if it serves TLS, set --tls-ca, and for mTLS a --tls-cert/--tls-key its client CA signed`;
  if (/getaddrinfo|ENOTFOUND/.test(d)) return `the host name does not resolve; check ${t.flag} or ${t.env}`;
  return d.split('\n')[0].trim();
}

/**
 * The one-line CliError for a call that could not reach the service (unreachable, TLS
 * trouble, no answer in time), or undefined when the service answered with an error.
 */
export function connectionFailure(err: { code: status; details: string }, address: string, t: ServiceTarget, timeoutMs: number): CliError | undefined {
  if (err.code === status.UNAVAILABLE && /No connection established|ECONNREFUSED|connect|getaddrinfo|Connection dropped|SSL|certificate/i.test(err.details)) {
    return new CliError(`cannot reach the Tabby ${t.what} at ${address} (${unreachableReason(err.details, t)})`);
  }
  if (err.code === status.DEADLINE_EXCEEDED) return new CliError(`the Tabby ${t.what} at ${address} did not answer within ${timeoutMs / 1000} s`);
  return undefined;
}

/** The ResourceStore as tabbyctl uses it: promises, Calico messages, one line when unreachable. */
export class StoreClient {
  private readonly client: ResourceStoreClient;

  constructor(private readonly config: ClientConfig) {
    let creds: ChannelCredentials;
    try {
      creds = channelCredentials(config.tls);
    } catch (err) {
      if (isConfigError(err)) throw new CliError(err.message);
      throw err;
    }
    this.client = new ResourceStoreClient(config.store, creds, { ...CLIENT_CHANNEL_OPTIONS, 'grpc.max_reconnect_backoff_ms': 1000 });
  }

  private async call<Req, Res>(method: Parameters<typeof callUnary<Req, Res>>[0], req: Req): Promise<Res> {
    try {
      return await callUnary(method, req, { timeoutMs: TIMEOUT_MS });
    } catch (err) {
      if (!isGrpcError(err)) throw err;
      throw connectionFailure(err, this.config.store, STORE_TARGET, TIMEOUT_MS) ?? new StoreCallError(err.details, err.code);
    }
  }

  create(resource: Resource): Promise<Resource> {
    return this.call(this.client.create.bind(this.client), { resource }).then((r) => r.resource as Resource);
  }
  update(resource: Resource): Promise<Resource> {
    return this.call(this.client.update.bind(this.client), { resource }).then((r) => r.resource as Resource);
  }
  apply(resource: Resource): Promise<{ resource: Resource; created: boolean }> {
    return this.call(this.client.apply.bind(this.client), { resource }).then((r) => ({ resource: r.resource as Resource, created: r.created }));
  }
  delete(kind: string, namespace: string, name: string, resourceVersion = '', force = false): Promise<Resource> {
    return this.call(this.client.delete.bind(this.client), { kind, namespace, name, resourceVersion, force }).then((r) => r.resource as Resource);
  }
  get(kind: string, namespace: string, name: string): Promise<Resource> {
    return this.call(this.client.get.bind(this.client), { kind, namespace, name }).then((r) => r.resource as Resource);
  }
  list(kind: string, namespace: string, labelSelector: string): Promise<{ items: Resource[]; revision: number }> {
    return this.call(this.client.list.bind(this.client), { kind, namespace, labelSelector });
  }
  info(): Promise<{ version: string; clusterType: string; clusterGuid: string; revision: number }> {
    return this.call(this.client.info.bind(this.client), {});
  }
  close(): void {
    this.client.close();
  }
}
