#!/usr/bin/env node
import { natsSecurity, runService, serviceDialTls } from '@tabby/runtime';
import { startIpam } from './app.js';
import { etcdSettings } from '@tabby/etcd';
import { ipamOptions } from './options.js';
import { IPAM_VERSION } from './version.js';

await runService({
  program: 'tabby-ipam',
  version: IPAM_VERSION,
  options: ipamOptions,
  start: async ({ config, logger, metrics }) =>
    startIpam({
      listen: config.listen,
      dataDir: config.dataDir,
      etcd: config.datastore === 'etcd' ? etcdSettings(config) : undefined,
      store: config.store,
      storeTls: serviceDialTls(config, { ca: config.storeTlsCa, cert: config.storeTlsCert, key: config.storeTlsKey }),
      natsUrl: config.nats,
      natsSecurity: natsSecurity(config),
      logger,
      metrics,
      metricsAddress: config.metrics,
      tls: { cert: config.tlsCert, key: config.tlsKey, clientCa: config.tlsClientCa },
      strictAffinity: config.strictAffinity,
      maxBlocksPerHost: config.maxBlocksPerHost,
      leakGraceMs: config.leakGrace * 1000,
      recoveryIntervalMs: config.recoveryInterval * 1000,
      gc: { enabled: !config.gcDisabled, intervalMs: config.gcInterval * 1000, leakGraceMs: config.gcLeakGrace * 1000 },
      callLogLevel: config.rpcLog,
      tunnelAddresses: config.tunnelAddresses,
    }),
});
