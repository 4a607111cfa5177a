import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dialIpam, dialStore, dialTopology } from '@tabby/client';
import {
  ConfigError,
  componentLogger,
  optionalMetricsServer,
  type ClientTlsFiles,
  type HostPort,
  type Logger,
  type OptionalMetricsServer,
  type ServiceMetrics,
} from '@tabby/runtime';
import { UiModel } from './model.js';
import { UiServer } from './server.js';

export interface UiAppOptions {
  readonly listen: HostPort;
  readonly store: string;
  readonly storeTls?: ClientTlsFiles;
  readonly topology: string;
  readonly topologyTls?: ClientTlsFiles;
  readonly ipam: string;
  readonly ipamTls?: ClientTlsFiles;
  /** The page's files; the package's dist/web when absent. */
  readonly webDir?: string;
  /** PEM files of the HTTPS listener; plain HTTP when absent. */
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  /** PEM CA browsers' client certificates must chain to (mTLS on the HTTPS listener). */
  readonly tlsClientCa?: string;
  /** Allow a non-loopback listener without TLS and a token (--insecure-listen). */
  readonly insecureListen?: boolean;
  /** Bearer token /api requests must present. */
  readonly token?: string;
  /** Seconds between safety-net re-reads of topology and IPAM (default 5). */
  readonly refreshS?: number;
  readonly logger: Logger;
  /** Prometheus /metrics (process metrics) on this address when set. */
  readonly metricsAddress?: HostPort;
  readonly metrics?: ServiceMetrics;
}

export interface UiApp {
  readonly port: number;
  /** `http(s)://HOST:PORT/`. */
  readonly url: string;
  readonly model: UiModel;
  stop(): Promise<void>;
}

/** The package's bundled page (dist/web beside dist/app.js). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1' || host === 'localhost' || /^::ffff:127\./i.test(host);
}

function readSecret(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
}

/** Reads the token of --token-file (trimmed; an empty file is an error). */
export function readTokenFile(path: string): string {
  const token = readSecret(path, 'token file').toString('utf8').trim();
  if (token === '') throw new ConfigError(`the token file ${path} is empty`);
  return token;
}

/**
 * Starts tabby-ui: checks the listener's security (loopback, or TLS and a token), follows
 * the backends and serves. It starts whether or not the backends answer; the page shows
 * which are unreachable until they are back.
 */
export async function startUi(opts: UiAppOptions): Promise<UiApp> {
  const log = opts.logger;
  const host = opts.listen.host;
  if (Boolean(opts.tlsCert) !== Boolean(opts.tlsKey)) throw new ConfigError('HTTPS needs both --tls-cert and --tls-key');
  if (opts.tlsClientCa && !opts.tlsCert) throw new ConfigError('--tls-client-ca needs --tls-cert and --tls-key');
  const tls =
    opts.tlsCert && opts.tlsKey
      ? { cert: readSecret(opts.tlsCert, 'certificate'), key: readSecret(opts.tlsKey, 'key'), ...(opts.tlsClientCa ? { clientCa: readSecret(opts.tlsClientCa, 'client CA') } : {}) }
      : undefined;
  if (!isLoopbackHost(host) && (!tls || !opts.token) && !opts.insecureListen) {
    const missing = [tls ? undefined : '--tls-cert/--tls-key', opts.token ? undefined : 'a token (--token-file or TABBY_UI_TOKEN)'].filter(Boolean).join(' and ');
    throw new ConfigError(`--listen ${opts.listen.text} is not a loopback address: it needs ${missing} (or listen on 127.0.0.1; --insecure-listen when the address is private to a container)`);
  }
  const webDir = opts.webDir ?? DEFAULT_WEB_DIR;
  const store = dialStore({ address: opts.store, tls: opts.storeTls, flag: '--store', logger: log });
  const topology = dialTopology({ address: opts.topology, tls: opts.topologyTls, flag: '--topology', logger: log });
  const ipam = dialIpam({ address: opts.ipam, tls: opts.ipamTls, flag: '--ipam', logger: log });
  const model = new UiModel({
    store,
    topology,
    ipam,
    addresses: { store: opts.store, topology: opts.topology, ipam: opts.ipam },
    logger: componentLogger(log, 'model'),
    refreshS: opts.refreshS ?? 5,
  });
  const server = new UiServer({ model, topology, agentTls: opts.storeTls ?? {}, webDir, token: opts.token, tls, logger: componentLogger(log, 'http') });
  let port: number;
  let metricsServer: OptionalMetricsServer | undefined;
  try {
    port = await server.listen(host, opts.listen.port);
    if (opts.metrics) metricsServer = await optionalMetricsServer(opts.metricsAddress, opts.metrics.registry, log);
  } catch (err) {
    await server.close();
    store.close();
    topology.close();
    ipam.close();
    throw new Error(`cannot listen on ${opts.listen.text}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  model.start();
  const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  if (!isLoopbackHost(host) && (!tls || !opts.token)) log.warn({ listen: opts.listen.text, tls: Boolean(tls), token: Boolean(opts.token) }, '--insecure-listen: serving a non-loopback address without TLS and a token');
  log.info({ url, webDir, auth: opts.token ? 'bearer token' : 'none', store: opts.store, topology: opts.topology, ipam: opts.ipam }, 'tabby-ui listening');
  return {
    port,
    url,
    model,
    stop: async () => {
      await server.close();
      await model.stop();
      await metricsServer?.close();
      store.close();
      topology.close();
      ipam.close();
    },
  };
}
