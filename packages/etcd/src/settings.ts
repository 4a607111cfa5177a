import { readFileSync } from 'node:fs';
import { ConfigError, option } from '@tabby/runtime';

/** The `--etcd-*` flags of every service that can keep its data in etcd (also `TABBY_ETCD_*`). */
export const etcdOptions = {
  etcdEndpoints: option.optionalString('etcd v3 client URLs, comma-separated (with --datastore etcd)', 'URL,URL'),
  etcdCa: option.optionalString("PEM CA of the etcd members' certificates: TLS to etcd", 'FILE'),
  etcdCert: option.optionalString('PEM client certificate for etcd (with --etcd-key)', 'FILE'),
  etcdKey: option.optionalString('PEM key of --etcd-cert', 'FILE'),
};

/** PEM files for TLS to etcd: its CA, and a client certificate when etcd asks for one. */
export interface EtcdTls {
  readonly ca: Buffer;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
}

/** How to reach etcd: the members' client URLs checked, the TLS files read. */
export interface EtcdSettings {
  readonly endpoints: readonly string[];
  readonly tls?: EtcdTls | undefined;
}

/** The values of {@link etcdOptions} as the config loader gives them. */
export interface EtcdFlagValues {
  readonly etcdEndpoints?: string | undefined;
  readonly etcdCa?: string | undefined;
  readonly etcdCert?: string | undefined;
  readonly etcdKey?: string | undefined;
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err });
  }
}

/**
 * Checks the etcd flags (with `--datastore etcd`) and reads the TLS files; throws a
 * {@link ConfigError} naming the flag when something is wrong (the service exits 2).
 */
export function etcdSettings(values: EtcdFlagValues): EtcdSettings {
  const endpoints = (values.etcdEndpoints ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (values.etcdEndpoints === undefined) throw new ConfigError('--datastore etcd needs --etcd-endpoints URL,URL,... (the client URLs of the etcd members, e.g. http://127.0.0.1:2379)');
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
  if (!values.etcdCa) throw new ConfigError("https:// --etcd-endpoints need --etcd-ca FILE (the CA of the etcd members' certificates)");
  return {
    endpoints,
    tls: {
      ca: readPem('--etcd-ca', values.etcdCa),
      cert: values.etcdCert ? readPem('--etcd-cert', values.etcdCert) : undefined,
      key: values.etcdKey ? readPem('--etcd-key', values.etcdKey) : undefined,
    },
  };
}
