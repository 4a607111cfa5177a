import type { Logger } from 'pino';
import { isConfigError, loadConfig, option, type ConfigSpec, type ConfigValues, type HostPort } from './config.js';
import { createLogger, LOG_LEVELS, parseTraceList, type LogLevel } from './logger.js';
import { createMetrics, type ServiceMetrics } from './metrics.js';
import { exitOnSignals } from './shutdown.js';

/** Options every service has, merged into its own spec by {@link runService}. */
export const commonOptions = {
  logLevel: option.oneOf<LogLevel>('log level', 'info', LOG_LEVELS),
  trace: option.string('components to log at debug, comma-separated (e.g. bgp-fsm,ipam)', '', 'LIST'),
  metrics: option.optionalAddress('serve Prometheus /metrics on this address (off when empty)'),
  tlsCert: option.optionalString('PEM certificate for the gRPC server (enables TLS)', 'FILE'),
  tlsKey: option.optionalString('PEM private key for --tls-cert', 'FILE'),
  tlsClientCa: option.optionalString('PEM CA that client certificates must chain to (enables mTLS)', 'FILE'),
};

export type CommonValues = ConfigValues<typeof commonOptions>;

/** What a service's start function receives. */
export interface ServiceContext<S extends ConfigSpec> {
  readonly config: ConfigValues<S> & CommonValues;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
}

/** A started service: stopped once on SIGTERM/SIGINT. */
export interface RunningService {
  stop(): Promise<void>;
}

export interface ServiceMain<S extends ConfigSpec> {
  /** Program name, e.g. "tabby-store". */
  readonly program: string;
  readonly version: string;
  readonly options: S;
  start(ctx: ServiceContext<S>): Promise<RunningService>;
}

/**
 * The `main` of every service: reads flags and `TABBY_*` variables (a bad value prints one
 * line naming it and exits 2), builds the root logger and metrics, starts the service and
 * stops it cleanly on SIGTERM/SIGINT. A failure to start prints one line and exits 1.
 */
export async function runService<S extends ConfigSpec>(main: ServiceMain<S>, argv = process.argv.slice(2), env = process.env): Promise<void> {
  const spec = { ...commonOptions, ...main.options };
  let loaded;
  try {
    loaded = loadConfig(main.program, spec, argv, env);
  } catch (err) {
    if (isConfigError(err)) {
      process.stderr.write(`${main.program}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (loaded.kind === 'help') {
    process.stdout.write(loaded.text);
    return;
  }
  if (loaded.kind === 'version') {
    process.stdout.write(`${main.program} ${main.version}\n`);
    return;
  }
  const config = loaded.values as ConfigValues<S> & CommonValues;
  const logger = createLogger({ service: main.program, level: config.logLevel, trace: parseTraceList(config.trace) });
  const metrics = createMetrics(main.program);
  let running: RunningService;
  try {
    running = await main.start({ config, logger, metrics });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ err }, 'failed to start');
    logger.flush();
    process.stderr.write(`${main.program}: ${isConfigError(err) ? '' : 'failed to start: '}${message}\n`);
    process.exit(isConfigError(err) ? 2 : 1);
  }
  exitOnSignals(logger, () => running.stop());
}

export type { HostPort };
