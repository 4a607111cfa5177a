import { readFileSync } from 'node:fs';
import { ConfigError, natsOptions, option } from '@tabby/runtime';
import type { EtcdTls } from './etcd-store.js';

/** Flags of tabby-store; each is also read from TABBY_<FLAG> (e.g. TABBY_DATA_DIR). */
export const storeOptions = {
  listen: option.address('gRPC listen address', '127.0.0.1:50051'),
  datastore: option.oneOf('where resources are kept: sqlite (one process, --data-dir) or etcd (replicas, --etcd-endpoints)', 'sqlite', ['sqlite', 'etcd'] as const),
  dataDir: option.string('directory of the SQLite database (created if missing)', './data/store', 'DIR'),
  etcdEndpoints: option.optionalString('etcd v3 client URLs, comma-separated (with --datastore etcd)', 'URL,URL'),
  etcdCa: option.optionalString('PEM CA of the etcd members\' certificates: TLS to etcd', 'FILE'),
  etcdCert: option.optionalString('PEM client certificate for etcd (with --etcd-key)', 'FILE'),
  etcdKey: option.optionalString('PEM key of --etcd-cert', 'FILE'),
  nats: option.optionalString('NATS server URL for resource events, or a NATS cluster\'s URLs comma-separated (nats://a:4222,nats://b:4222; reconnects to any of them); events off when empty', 'URL'),
  ...natsOptions,
  eventRetention: option.integer('committed events kept for Watch before compaction (sqlite)', 100_000, 1_000, 100_000_000),
  rpcLog: option.oneOf('log level of successful RPCs', 'info', ['info', 'debug'] as const),
};

/** The etcd connection settings from the flags: endpoints checked, TLS files read. */
export interface EtcdSettings {
  readonly endpoints: string[];
  readonly tls?: EtcdTls;
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
}

/**
 * Checks the etcd flags (with --datastore etcd) and reads the TLS files; throws a
 * {@link ConfigError} naming the flag when something is wrong.
 */
export function etcdSettings(values: { etcdEndpoints?: string; etcdCa?: string; etcdCert?: string; etcdKey?: string }): EtcdSettings {
  const raw = values.etcdEndpoints;
  if (raw === undefined) throw new ConfigError('--datastore etcd needs --etcd-endpoints URL,URL,... (the client URLs of the etcd members, e.g. http://127.0.0.1:2379)');
  const endpoints = raw.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (endpoints.length === 0) throw new ConfigError('--etcd-endpoints is empty');
  for (const e of endpoints) {
    const m = /^(https?):\/\/([^/\s]+):(\d+)\/?$/.exec(e);
    if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) throw new ConfigError(`invalid --etcd-endpoints "${e}": expected http://HOST:PORT or https://HOST:PORT`);
  }
  const https = endpoints.filter((e) => e.startsWith('https://')).length;
  if (https > 0 && https < endpoints.length) throw new ConfigError('--etcd-endpoints mixes http:// and https:// URLs: use one scheme for every member');
  if (Boolean(values.etcdCert) !== Boolean(values.etcdKey)) throw new ConfigError('an etcd client certificate needs both --etcd-cert and --etcd-key');
  if (https === 0) {
    if (values.etcdCa || values.etcdCert) throw new ConfigError('--etcd-ca/--etcd-cert are for TLS: give https:// --etcd-endpoints');
    return { endpoints };
  }
  if (!values.etcdCa) throw new ConfigError('https:// --etcd-endpoints need --etcd-ca FILE (the CA of the etcd members\' certificates)');
  return {
    endpoints,
    tls: {
      ca: readPem('--etcd-ca', values.etcdCa),
      cert: values.etcdCert ? readPem('--etcd-cert', values.etcdCert) : undefined,
      key: values.etcdKey ? readPem('--etcd-key', values.etcdKey) : undefined,
    },
  };
}
