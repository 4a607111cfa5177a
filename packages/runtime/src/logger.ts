import { destination, pino, stdTimeFunctions, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const satisfies readonly LevelWithSilent[];
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** Service name, e.g. "tabby-store". */
  readonly service: string;
  readonly level: LogLevel;
  /** Components to log at debug regardless of level: `TABBY_TRACE=bgp-fsm,ipam`. */
  readonly trace?: readonly string[];
  /** Where to write; defaults to stdout. */
  readonly destination?: DestinationStream;
}

const REDACT = ['password', '*.password', 'token', '*.token', 'key', '*.tlsKey', 'authorization', '*.authorization'];

const traced = new WeakMap<Logger, ReadonlySet<string>>();

/** The root logger of a process: JSON lines, secrets redacted. Made once in `main`. */
export function createLogger(opts: LoggerOptions): Logger {
  const root = pino(
    {
      name: opts.service,
      level: opts.level,
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? destination({ dest: 1, sync: false }),
  );
  traced.set(root, new Set(opts.trace ?? []));
  return root;
}

/**
 * A child logger for one component. When the component is named in the root's trace set
 * it logs at debug even if the root level is higher.
 */
export function componentLogger(parent: Logger, component: string, bindings: Record<string, unknown> = {}): Logger {
  const child = parent.child({ component, ...bindings });
  const set = traced.get(parent);
  if (set) {
    traced.set(child, set);
    if (set.has(component) || set.has('all')) child.level = 'debug';
  }
  return child;
}

/** Parses `TABBY_TRACE`-style lists: "bgp-fsm, ipam" → ["bgp-fsm", "ipam"]. */
export function parseTraceList(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
