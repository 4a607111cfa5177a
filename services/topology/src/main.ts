#!/usr/bin/env node
import { natsSecurity, runService, serviceDialTls } from '@tabby/runtime';
import { startTopology } from './app.js';
import { topologyOptions } from './options.js';
import { TOPOLOGY_VERSION } from './version.js';

await runService({
  program: 'tabby-topology',
  version: TOPOLOGY_VERSION,
  options: topologyOptions,
  start: async ({ config, logger, metrics }) =>
    startTopology({
      listen: config.listen,
      store: config.store,
      storeTls: serviceDialTls(config, { ca: config.storeTlsCa, cert: config.storeTlsCert, key: config.storeTlsKey }),
      ipam: config.ipam,
      ipamTls: serviceDialTls(config, { ca: config.ipamTlsCa, cert: config.ipamTlsCert, key: config.ipamTlsKey }),
      natsUrl: config.nats,
      natsSecurity: natsSecurity(config),
      logger,
      metrics,
      metricsAddress: config.metrics,
      tls: { cert: config.tlsCert, key: config.tlsKey, clientCa: config.tlsClientCa },
      blockResyncMs: config.blockResync * 1000,
      callLogLevel: config.rpcLog,
    }),
});
