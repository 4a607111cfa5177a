#!/usr/bin/env node
import { natsSecurity, runService } from '@tabby/runtime';
import { etcdSettings } from '@tabby/etcd';
import { storeOptions } from './options.js';
import { startStore } from './app.js';
import { STORE_VERSION } from './version.js';

await runService({
  program: 'tabby-store',
  version: STORE_VERSION,
  options: storeOptions,
  start: async ({ config, logger, metrics }) =>
    startStore({
      listen: config.listen,
      datastore: config.datastore,
      dataDir: config.dataDir,
      etcd: config.datastore === 'etcd' ? etcdSettings(config) : undefined,
      natsUrl: config.nats,
      natsSecurity: natsSecurity(config),
      logger,
      metrics,
      metricsAddress: config.metrics,
      tls: { cert: config.tlsCert, key: config.tlsKey, clientCa: config.tlsClientCa },
      eventRetention: config.eventRetention,
      callLogLevel: config.rpcLog,
    }),
});
