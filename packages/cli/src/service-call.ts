import { status, type ChannelCredentials, type Metadata } from '@grpc/grpc-js';
import type { DialOptions } from '@tabby/client';
import { CLIENT_CHANNEL_OPTIONS, callUnary, channelCredentials, classifyDialFailure, isConfigError, isGrpcError, type ClientTlsFiles } from '@tabby/runtime';
import { CliError } from './errors.js';

/** Channel options of every tabbyctl client: the services' own, with quick reconnects (a CLI lives briefly). */
export const CLI_CHANNEL_OPTIONS = { ...CLIENT_CHANNEL_OPTIONS, 'grpc.max_reconnect_backoff_ms': 1000 } as const;

/** A service answered with an error: its message and gRPC code. Each client has its own subclass. */
export class ServiceCallError extends Error {
  constructor(
    message: string,
    readonly code: status,
  ) {
    super(message);
  }
}

/** Credentials from the TLS flags; a bad file is one CLI error line. */
export function cliCredentials(tls: ClientTlsFiles): ChannelCredentials {
  try {
    return channelCredentials(tls);
  } catch (err) {
    if (isConfigError(err)) throw new CliError(err.message);
    throw err;
  }
}

/**
 * A client of a Tabby service as tabbyctl dials it: `@tabby/client`'s dialers (one address or
 * replicas as `IP:PORT,IP:PORT`, balanced round-robin; TLS files), quick reconnects, no log
 * line. A bad address list or TLS file is one CLI error line naming `what`.
 */
export function cliDial<C>(dial: (opts: DialOptions) => C, address: string, tls: ClientTlsFiles, what: string, balance: DialOptions['balance'] = 'lists'): C {
  try {
    return dial({ address, tls, flag: what, balance, channelOptions: { 'grpc.max_reconnect_backoff_ms': 1000 }, logger: { info: () => undefined } });
  } catch (err) {
    if (isConfigError(err)) throw new CliError(err.message);
    throw err;
  }
}

/**
 * One unary call of a Tabby service as tabbyctl makes it: a deadline, one line naming the
 * address when the service cannot be reached, otherwise the service's own error.
 */
export async function callService<Req, Res>(
  method: Parameters<typeof callUnary<Req, Res>>[0],
  req: Req,
  where: { readonly address: string; readonly target: ServiceTarget; readonly timeoutMs: number },
  failed: (message: string, code: status) => Error,
): Promise<Res> {
  try {
    return await callUnary(method, req, { timeoutMs: where.timeoutMs });
  } catch (err) {
    if (!isGrpcError(err)) throw err;
    throw connectionFailure(err, where.address, where.target, where.timeoutMs) ?? failed(err.details, err.code);
  }
}

/** A service tabbyctl talks to, as its connection errors name it. */
export interface ServiceTarget {
  /** `store`, `ipam`: "the Tabby store at ...". */
  readonly what: string;
  readonly bin: string;
  readonly flag: string;
  readonly env: string;
}

/** Why a connection failed, in words an operator can act on (one line). */
export function unreachableReason(details: string, t: ServiceTarget): string {
  switch (classifyDialFailure(details)) {
    case 'client-certificate-required':
      return `the ${t.what} requires a client certificate: set --tls-cert and --tls-key`;
    case 'unknown-ca':
      return `the ${t.what}'s certificate is not signed by the CA of --tls-ca`;
    case 'not-tls':
      return `TLS mismatch: the ${t.what} does not serve TLS, drop --tls-ca`;
    case 'name-mismatch':
      return `the ${t.what}'s certificate does not name this address`;
    case 'connection-refused':
      return `connection refused; is ${t.bin} running? Set the address with ${t.flag} or ${t.env}`;
    case 'dropped-during-setup':
      return `the ${t.what} closed the connection during setup; if it serves TLS, set --tls-ca, and for mTLS a --tls-cert/--tls-key its client CA signed`;
    case 'unresolved':
      return `the host name does not resolve; check ${t.flag} or ${t.env}`;
    case undefined:
      return details.replace(/^No connection established\. Last error: /, '').split('\n')[0].trim();
  }
}

/**
 * The one-line CliError for a call that could not reach the service (unreachable, TLS
 * trouble, no answer in time), or undefined when the service answered with an error.
 */
export function connectionFailure(err: { code: status; details: string; metadata?: Metadata }, address: string, t: ServiceTarget, timeoutMs: number): CliError | undefined {
  // A status with a reason came from the service itself (its own backend may be what is
  // unreachable, e.g. etcd refusing connections): that is the service's message, not ours.
  if (err.metadata !== undefined && err.metadata.get('tabby-reason').length > 0) return undefined;
  if (err.code === status.UNAVAILABLE && /No connection established|ECONNREFUSED|connect|getaddrinfo|Connection dropped|SSL|certificate/i.test(err.details)) {
    return new CliError(`cannot reach the Tabby ${t.what} at ${address} (${unreachableReason(err.details, t)})`);
  }
  if (err.code === status.DEADLINE_EXCEEDED) return new CliError(`the Tabby ${t.what} at ${address} did not answer within ${timeoutMs / 1000} s`);
  return undefined;
}

