import { natsOptions, option } from '@tabby/runtime';

/** Flags of tabby-store; each is also read from TABBY_<FLAG> (e.g. TABBY_DATA_DIR). */
export const storeOptions = {
  listen: option.address('gRPC listen address', '127.0.0.1:50051'),
  dataDir: option.string('directory of the SQLite database (created if missing)', './data/store', 'DIR'),
  nats: option.optionalString('NATS server URL for resource events, e.g. nats://127.0.0.1:4222 (events off when empty)', 'URL'),
  ...natsOptions,
  eventRetention: option.integer('committed events kept for Watch before compaction', 100_000, 1_000, 100_000_000),
  rpcLog: option.oneOf('log level of successful RPCs', 'info', ['info', 'debug'] as const),
};
