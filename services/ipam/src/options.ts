import { existsSync } from 'node:fs';
import { ConfigError, clientTlsOptions, natsOptions, option } from '@tabby/runtime';
import type { EtcdConnection } from './etcd-storage.js';
import { DATASTORES } from './storage.js';

/** Flags of tabby-ipam; each is also read from TABBY_<FLAG> (e.g. TABBY_DATA_DIR). */
export const ipamOptions = {
  listen: option.address('gRPC listen address', '127.0.0.1:50052'),
  datastore: option.oneOf('where blocks, affinities and handles are kept: sqlite (--data-dir) or etcd (--etcd-endpoints; Calico\'s layout, several replicas)', 'sqlite', DATASTORES),
  dataDir: option.string('directory of the IPAM SQLite database (created if missing; several tabby-ipam may share it)', './data/ipam', 'DIR'),
  etcdEndpoints: option.optionalString('etcd v3 client URLs, comma-separated (with --datastore etcd)', 'URL,URL'),
  etcdCa: option.optionalString('PEM CA of the etcd members\' certificates: TLS to etcd', 'FILE'),
  etcdCert: option.optionalString('PEM client certificate for etcd (with --etcd-key)', 'FILE'),
  etcdKey: option.optionalString('PEM key of --etcd-cert', 'FILE'),
  store: option.string('address of tabby-store (pools and nodes are read from it, workload endpoints written to it)', '127.0.0.1:50051', 'ADDR'),
  ...clientTlsOptions,
  storeTlsCa: option.optionalString('CA certificate to verify tabby-store, for the store only (overrides --tls-ca; with --store-tls-cert/--store-tls-key)', 'FILE'),
  storeTlsCert: option.optionalString('client certificate for tabby-store only (mTLS; overrides --tls-cert for the store)', 'FILE'),
  storeTlsKey: option.optionalString('key of --store-tls-cert', 'FILE'),
  nats: option.optionalString('NATS server URL for block events, or a NATS cluster\'s URLs comma-separated (nats://a:4222,nats://b:4222; reconnects to any of them); events off when empty', 'URL'),
  ...natsOptions,
  strictAffinity: option.flag('never borrow addresses from another node\'s block (Calico StrictAffinity)'),
  maxBlocksPerHost: option.integer('blocks one node may hold per address family (Calico MaxBlocksPerHost; 0 = no limit)', 20, 0, 1_000_000),
  leakGrace: option.integer('seconds an allocation without a WorkloadEndpoint is given before `ipam check` calls it leaked', 30, 0, 86_400),
  recoveryInterval: option.integer('seconds between looks for interrupted workload changes of dead ipam processes', 10, 1, 3600),
  rpcLog: option.oneOf('log level of successful RPCs', 'info', ['info', 'debug'] as const),
};

/** The etcd connection of `--datastore etcd` from the flags, checked (a bad one is a ConfigError: exit 2). */
export function etcdConnection(config: { etcdEndpoints?: string | undefined; etcdCa?: string | undefined; etcdCert?: string | undefined; etcdKey?: string | undefined }): EtcdConnection {
  const endpoints = (config.etcdEndpoints ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (endpoints.length === 0) throw new ConfigError('--datastore etcd needs --etcd-endpoints URL,URL,... (the client URLs of the etcd members, e.g. http://127.0.0.1:2379)');
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(e)) throw new ConfigError(`invalid --etcd-endpoints ${JSON.stringify(e)}: expected http://HOST:PORT or https://HOST:PORT`);
  }
  const tls = endpoints.filter((e) => e.startsWith('https://')).length;
  if (tls > 0 && tls < endpoints.length) throw new ConfigError('--etcd-endpoints mixes http:// and https://: use one for every member');
  if (tls > 0 && !config.etcdCa) throw new ConfigError("https:// --etcd-endpoints need --etcd-ca FILE (the CA of the etcd members' certificates)");
  if (tls === 0 && config.etcdCa) throw new ConfigError('--etcd-ca is for https:// --etcd-endpoints');
  if ((config.etcdCert === undefined) !== (config.etcdKey === undefined)) throw new ConfigError('--etcd-cert and --etcd-key go together');
  for (const [flag, file] of [
    ['--etcd-ca', config.etcdCa],
    ['--etcd-cert', config.etcdCert],
    ['--etcd-key', config.etcdKey],
  ] as const) {
    if (file !== undefined && !existsSync(file)) throw new ConfigError(`${flag} ${file}: no such file`);
  }
  return { endpoints, ca: config.etcdCa, cert: config.etcdCert, key: config.etcdKey };
}
