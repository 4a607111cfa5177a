import { etcdOptions } from '@tabby/etcd';
import { natsOptions, option } from '@tabby/runtime';

/** Flags of tabby-store; each is also read from TABBY_<FLAG> (e.g. TABBY_DATA_DIR). */
export const storeOptions = {
  listen: option.address('gRPC listen address', '127.0.0.1:50051'),
  datastore: option.oneOf('where resources are kept: sqlite (one process, --data-dir) or etcd (replicas, --etcd-endpoints)', 'sqlite', ['sqlite', 'etcd'] as const),
  dataDir: option.string('directory of the SQLite database (created if missing)', './data/store', 'DIR'),
  ...etcdOptions,
  nats: option.optionalString('NATS server URL for resource events, or a NATS cluster\'s URLs comma-separated (nats://a:4222,nats://b:4222; reconnects to any of them); events off when empty', 'URL'),
  ...natsOptions,
  eventRetention: option.integer('committed events kept for Watch before compaction (sqlite)', 100_000, 1_000, 100_000_000),
  rpcLog: option.oneOf('log level of successful RPCs (debug: a line per call costs CPU on every write)', 'debug', ['info', 'debug'] as const),
};
