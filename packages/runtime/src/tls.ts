import { readFileSync } from 'node:fs';
import { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import { ConfigError } from './config.js';

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

function readPem(path: string, what: string): Buffer {
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
