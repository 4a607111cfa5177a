import { readFileSync } from 'node:fs';
import { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ConfigError, option } from './config.js';

/** PEM file paths for a server: cert+key enable TLS; a client CA also requires client certificates (mTLS). */
export interface ServerTlsFiles {
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly clientCa?: string | undefined;
}

/** PEM file paths for a client: a CA to trust, and a cert+key to present for mTLS. */
export interface ClientTlsFiles {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/**
 * The flag of a service that dials other services: the CA it trusts. Set, every outgoing
 * gRPC call uses TLS, and the service's `--tls-cert`/`--tls-key` (see `commonOptions`)
 * are presented as its client certificate.
 */
export const clientTlsOptions = {
  tlsCa: option.optionalString(
    'PEM CA the services this one dials must chain to: turns on TLS for its outgoing gRPC calls, presenting --tls-cert/--tls-key as the client certificate',
    'FILE',
  ),
};

/** Reads a PEM (or other secret) file; a {@link ConfigError} naming it when it cannot be read. */
export function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

/** Server credentials: insecure when no cert is given, TLS with cert+key, mTLS with a client CA too. */
export function serverCredentials(tls: ServerTlsFiles): ServerCredentials {
  if (!tls.cert && !tls.key) {
    if (tls.clientCa) throw new ConfigError('--tls-client-ca needs --tls-cert and --tls-key');
    return ServerCredentials.createInsecure();
  }
  if (!tls.cert || !tls.key) throw new ConfigError('TLS needs both --tls-cert and --tls-key');
  const ca = tls.clientCa ? readPem(tls.clientCa, 'client CA') : null;
  return ServerCredentials.createSsl(ca, [{ cert_chain: readPem(tls.cert, 'certificate'), private_key: readPem(tls.key, 'key') }], ca !== null);
}

/** Client credentials: insecure when nothing is given; otherwise TLS, with a client cert for mTLS. */
export function channelCredentials(tls: ClientTlsFiles): ChannelCredentials {
  if (!tls.ca && !tls.cert && !tls.key) return ChannelCredentials.createInsecure();
  if (Boolean(tls.cert) !== Boolean(tls.key)) throw new ConfigError('a client certificate needs both a cert and a key');
  return ChannelCredentials.createSsl(
    tls.ca ? readPem(tls.ca, 'CA') : null,
    tls.key ? readPem(tls.key, 'key') : null,
    tls.cert ? readPem(tls.cert, 'certificate') : null,
  );
}

/** How a client talks to one server: `plaintext`, `tls` (server verified), `mtls` (and a client certificate). */
export type DialSecurity = 'plaintext' | 'tls' | 'mtls';

/** What {@link ClientTlsFiles} amount to. */
export function dialSecurity(tls: ClientTlsFiles): DialSecurity {
  if (!tls.ca && !tls.cert && !tls.key) return 'plaintext';
  return tls.cert && tls.key ? 'mtls' : 'tls';
}

/** The TLS flags of a service, as {@link commonOptions} and {@link clientTlsOptions} declare them. */
export interface ServiceTlsValues {
  readonly tlsCa?: string | undefined;
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
}

/**
 * The files a service dials its peers with: nothing (plaintext) unless `--tls-ca` is set;
 * with it, TLS verified against that CA, presenting `--tls-cert`/`--tls-key` (the
 * service's own, also served) as the client certificate when they are given. An
 * `override` with any file set (`--store-tls-*`) replaces this for its one peer.
 */
export function serviceDialTls(values: ServiceTlsValues, override?: ClientTlsFiles): ClientTlsFiles {
  if (override && (override.ca || override.cert || override.key)) return { ca: override.ca, cert: override.cert, key: override.key };
  if (!values.tlsCa) return {};
  return { ca: values.tlsCa, cert: values.tlsCert, key: values.tlsKey };
}

/** One gRPC server a service dials: how it is named in logs, its address and the files. */
export interface DialTarget {
  /** Program name of the server, e.g. `tabby-store`. */
  readonly peer: string;
  readonly address: string;
  readonly tls: ClientTlsFiles;
}

/**
 * Channel credentials for one peer of a service: logs one line naming the peer, its
 * address and the security (plaintext, TLS, mTLS; never file contents), and throws a
 * {@link ConfigError} naming the file when one cannot be read. Every service builds its
 * clients' credentials here.
 */
export function dialCredentials(target: DialTarget, logger: Pick<Logger, 'info'>): ChannelCredentials {
  const creds = channelCredentials(target.tls);
  logger.info({ peer: target.peer, address: target.address, security: dialSecurity(target.tls), ca: target.tls.ca, cert: target.tls.cert }, 'gRPC client');
  return creds;
}

/** Why a gRPC connection could not be set up, from grpc-js's status details. */
export type DialFailure =
  | 'client-certificate-required'
  | 'unknown-ca'
  | 'not-tls'
  | 'name-mismatch'
  | 'connection-refused'
  | 'dropped-during-setup'
  | 'unresolved';

/**
 * The cause inside the details of a failed dial. grpc-js nests it: "round_robin: No connection
 * established. Last error: No connection established. Last error: Error: connect ECONNREFUSED
 * 127.0.0.1:1. Resolution note: " when the channel balances over replicas; that gives
 * "connect ECONNREFUSED 127.0.0.1:1". Other details come back as they are.
 */
export function dialFailureCause(details: string): string {
  return details.replace(/^(?:[\w-]+: )?(?:No connection established\. Last error: )+(?:Error: )?/, '').replace(/\.?\s*Resolution note:.*$/s, '');
}

/** Classifies the details of an UNAVAILABLE status; undefined when it is none of the {@link DialFailure}s. */
export function classifyDialFailure(details: string): DialFailure | undefined {
  const d = dialFailureCause(details);
  if (/certificate required/i.test(d)) return 'client-certificate-required';
  if (/unknown ca|self.signed|unable to (get|verify)|certificate verify failed/i.test(d)) return 'unknown-ca';
  if (/wrong version number|packet length too long|http\/1/i.test(d)) return 'not-tls';
  if (/Hostname\/IP does not match|altnames/i.test(d)) return 'name-mismatch';
  if (/ECONNREFUSED/.test(d)) return 'connection-refused';
  if (/Connection dropped|ECONNRESET|^Failed to connect/i.test(d)) return 'dropped-during-setup';
  if (/getaddrinfo|ENOTFOUND/.test(d)) return 'unresolved';
  return undefined;
}

const SERVICE_DIAL_HINTS: Record<DialFailure, string> = {
  'client-certificate-required': 'TLS: the server requires a client certificate; set --tls-cert and --tls-key (signed by its client CA) with --tls-ca',
  'unknown-ca': "TLS: the server's certificate is not signed by the CA of --tls-ca",
  'not-tls': 'TLS mismatch: the server does not serve TLS; drop --tls-ca',
  'name-mismatch': "TLS: the server's certificate does not name the address dialled",
  'connection-refused': 'connection refused: is the server running at this address?',
  'dropped-during-setup': 'the server closed the connection during setup; if it serves TLS, set --tls-ca, and for mTLS --tls-cert/--tls-key its client CA signed',
  unresolved: 'the host name does not resolve',
};

/** A one-line hint for a service's log when a peer cannot be reached (flags as services spell them); undefined when unknown. */
export function dialFailureHint(details: string): string | undefined {
  const kind = classifyDialFailure(details);
  return kind && SERVICE_DIAL_HINTS[kind];
}
