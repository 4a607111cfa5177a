import { etcdOptions } from '@tabby/etcd';
import { clientTlsOptions, natsOptions, option } from '@tabby/runtime';
import { DATASTORES } from './storage.js';

/** Flags of tabby-ipam; each is also read from TABBY_<FLAG> (e.g. TABBY_DATA_DIR). */
export const ipamOptions = {
  listen: option.address('gRPC listen address', '127.0.0.1:50052'),
  datastore: option.oneOf('where blocks, affinities and handles are kept: sqlite (--data-dir) or etcd (--etcd-endpoints; Calico\'s layout, several replicas)', 'sqlite', DATASTORES),
  dataDir: option.string('directory of the IPAM SQLite database (created if missing; several tabby-ipam may share it)', './data/ipam', 'DIR'),
  ...etcdOptions,
  store: option.string('address of tabby-store, or its replicas IP:PORT,IP:PORT (pools and nodes are read from it, workload endpoints written to it)', '127.0.0.1:50051', 'ADDR'),
  ...clientTlsOptions,
  storeTlsCa: option.optionalString('CA certificate to verify tabby-store, for the store only (overrides --tls-ca; with --store-tls-cert/--store-tls-key)', 'FILE'),
  storeTlsCert: option.optionalString('client certificate for tabby-store only (mTLS; overrides --tls-cert for the store)', 'FILE'),
  storeTlsKey: option.optionalString('key of --store-tls-cert', 'FILE'),
  nats: option.optionalString('NATS server URL for block events, or a NATS cluster\'s URLs comma-separated (nats://a:4222,nats://b:4222; reconnects to any of them); events off when empty', 'URL'),
  ...natsOptions,
  strictAffinity: option.flag('never borrow addresses from another node\'s block (Calico StrictAffinity); used until the IPAMConfiguration default exists in the store, which then wins'),
  maxBlocksPerHost: option.integer('blocks one node may hold per address family (Calico MaxBlocksPerHost; 0 = the built-in limit of 20); used until the IPAMConfiguration default exists in the store, which then wins', 0, 0, 2_147_483_647),
  leakGrace: option.integer('seconds an allocation without a WorkloadEndpoint is given before `ipam check` calls it leaked', 30, 0, 86_400),
  gcInterval: option.integer('seconds between garbage collection passes (deleted nodes, leaked addresses, empty blocks of disabled or deleted pools); a Node deletion also starts one', 60, 1, 86_400),
  gcLeakGrace: option.integer('seconds an allocation\'s WorkloadEndpoint must have been seen gone before the garbage collector releases it (Calico\'s kube-controllers: 15 min)', 900, 0, 604_800),
  gcDisabled: option.flag('turn off garbage collection (`ipam check --repair` still releases leaks and the blocks of deleted nodes)'),
  recoveryInterval: option.integer('seconds between looks for interrupted workload changes of dead ipam processes', 10, 1, 3600),
  tunnelAddresses: option.flag('give each node an IPIP/VXLAN tunnel address from the pools with ipipMode/vxlanMode on and Tunnel use, written to its Node (as calico-node does)'),
  rpcLog: option.oneOf('log level of successful RPCs', 'info', ['info', 'debug'] as const),
};
