#!/usr/bin/env node
import { natsSecurity, runService, serviceDialTls } from '@tabby/runtime';
import { startAgent } from './app.js';
import { agentOptions } from './options.js';
import { AGENT_VERSION } from './version.js';

await runService({
  program: 'tabby-agent',
  version: AGENT_VERSION,
  options: agentOptions,
  start: async ({ config, logger, metrics }) =>
    startAgent({
      node: config.node,
      listen: config.listen,
      advertiseAddress: config.advertiseAddress,
      bgpAddress: config.bgpAddress,
      bgpIpv6Address: config.bgpIpv6Address,
      bgpPort: config.bgpPort,
      bgpListen: config.bgpListen,
      nextHopIPv4: config.nextHopIpv4,
      nextHopIPv6: config.nextHopIpv6,
      asNumber: config.asNumber,
      holdTimeS: config.holdTime,
      peerAllow: config.peerAllow,
      store: config.store,
      topology: config.topology,
      natsUrl: config.nats,
      natsSecurity: natsSecurity(config),
      logger,
      metrics,
      metricsAddress: config.metrics,
      tls: { cert: config.tlsCert, key: config.tlsKey, clientCa: config.tlsClientCa },
      clientTls: serviceDialTls(config),
      statusIntervalMs: config.statusInterval * 1000,
      dataplane: config.dataplane,
      routeTable: config.routeTable,
      routeProtocol: config.routeProtocol,
      routeScanIntervalMs: config.routeScanInterval * 1000,
      gracefulRestartWaitMs: config.gracefulRestartWait * 1000,
      routeCleanupGraceMs: config.routeCleanupGrace * 1000,
      callLogLevel: config.rpcLog,
      secretsDir: config.secretsDir,
    }),
});
