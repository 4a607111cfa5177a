#!/usr/bin/env node
import { runService, serviceDialTls } from '@tabby/runtime';
import { readTokenFile, startUi } from './app.js';
import { uiOptions } from './options.js';
import { UI_VERSION } from './version.js';

await runService({
  program: 'tabby-ui',
  version: UI_VERSION,
  options: uiOptions,
  start: async ({ config, logger, metrics }) =>
    startUi({
      listen: config.listen,
      store: config.store,
      storeTls: serviceDialTls(config, { ca: config.storeTlsCa, cert: config.storeTlsCert, key: config.storeTlsKey }),
      topology: config.topology,
      topologyTls: serviceDialTls(config, { ca: config.topologyTlsCa, cert: config.topologyTlsCert, key: config.topologyTlsKey }),
      ipam: config.ipam,
      ipamTls: serviceDialTls(config, { ca: config.ipamTlsCa, cert: config.ipamTlsCert, key: config.ipamTlsKey }),
      webDir: config.webDir,
      insecureListen: config.insecureListen,
      tlsCert: config.tlsCert,
      tlsKey: config.tlsKey,
      tlsClientCa: config.tlsClientCa,
      // The token file wins; TABBY_UI_TOKEN gives the token itself (for containers with secrets in the environment).
      token: config.tokenFile ? readTokenFile(config.tokenFile) : process.env.TABBY_UI_TOKEN || undefined,
      refreshS: config.refresh,
      logger,
      metrics,
      metricsAddress: config.metrics,
    }),
});
