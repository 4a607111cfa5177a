import { writeSync } from 'node:fs';
import type { Logger } from 'pino';
import { isConfigError, loadConfig, option, type ConfigSpec, type ConfigValues, type HostPort } from './config.js';
import { createLogger, LOG_LEVELS, parseTraceList, pinoLib, type LogLevel } from './logger.js';
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
      exitWithLine(`${main.program}: ${err.message}\n`, 2);
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
    // The JSON line first, then the one plain line: readers take the last line as the reason.
    await flushLogger(logger);
    exitWithLine(`${main.program}: ${isConfigError(err) ? '' : 'failed to start: '}${message}\n`, isConfigError(err) ? 2 : 1);
  }
  exitOnSignals(logger, () => running.stop());
}

/**
 * Writes out what the logger's stream still holds: waits (up to 1 s) for a write sonic-boom has in
 * flight (its `flush` callback does not), then `flushSync` for what is buffered.
 */
async function flushLogger(logger: Logger): Promise<void> {
  const stream = (logger as unknown as Record<symbol, { _writing?: boolean; flushSync?: () => void } | undefined>)[pinoLib().symbols.streamSym];
  const until = Date.now() + 1_000;
  while (stream?._writing === true && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 5));
  try {
    stream?.flushSync?.();
  } catch {
    // Nothing more to do on the way out: the plain line still follows.
  }
}

/**
 * Writes `line` to stderr and exits. `process.stderr.write` may queue the text (a pipe shared with
 * stdout, as in `2>&1 | …` or a journal socket, can be non-blocking), and `process.exit` drops what is
 * queued: the one line saying why would be lost. So write it synchronously, waiting out EAGAIN.
 */
function exitWithLine(line: string, code: number): never {
  const bytes = Buffer.from(line, 'utf8');
  let off = 0;
  const deadline = Date.now() + 2_000;
  while (off < bytes.length && Date.now() < deadline) {
    try {
      off += writeSync(2, bytes, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') break;
    }
  }
  process.exit(code);
}

export type { HostPort };
