import type * as Pino from 'pino';
import type { ChildLoggerOptions, DestinationStream, Logger, LevelWithSilent } from 'pino';
import { lazy } from './lazy.js';

/** pino, loaded when a process makes its logger (tabbyctl mostly never does). */
export const pinoLib = lazy<typeof Pino>('pino');

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

const REDACT = [
  'password',
  '*.password',
  'pass',
  '*.pass',
  'natsPassword',
  '*.natsPassword',
  'seed',
  '*.seed',
  'token',
  '*.token',
  'key',
  '*.tlsKey',
  'authorization',
  '*.authorization',
];

/**
 * Where a logger made here comes from: its process root, every binding it carries, the
 * root's trace set and pino's own `child` of the root. pino appends a child's bindings to
 * its parent's, so a component logger made from another would print `"component"` twice
 * (`"component":"agent","component":"bgp"`); children are made from the root with the
 * merged bindings instead, the newer value replacing the older.
 */
interface Lineage {
  readonly make: (bindings: Record<string, unknown>, options?: ChildLoggerOptions) => Logger;
  readonly bindings: Readonly<Record<string, unknown>>;
  readonly trace: ReadonlySet<string>;
}

const lineages = new WeakMap<Logger, Lineage>();

/** Records a logger's lineage and routes its `child` (also when code that only knows pino calls it) through {@link childLogger}. */
function adopt(logger: Logger, lineage: Lineage): Logger {
  lineages.set(logger, lineage);
  const child = (bindings: Record<string, unknown>, options?: ChildLoggerOptions): Logger => childLogger(logger, bindings, options);
  (logger as { child: unknown }).child = child;
  return logger;
}

/** The root logger of a process: JSON lines, secrets redacted. Made once in `main`. */
export function createLogger(opts: LoggerOptions): Logger {
  const { destination, pino, stdTimeFunctions } = pinoLib();
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
  const make = root.child.bind(root) as unknown as Lineage['make'];
  return adopt(root, { make, bindings: {}, trace: new Set(opts.trace ?? []) });
}

/**
 * A child logger with more bindings; a key the parent already binds takes the new value
 * (each key appears once per line). It starts at the parent's level; when it names a
 * component in the root's trace set (or the set holds `all`), it logs at debug even if the
 * root level is higher. A parent not made by {@link createLogger} gets pino's plain child.
 */
export function childLogger(parent: Logger, bindings: Record<string, unknown>, options?: ChildLoggerOptions): Logger {
  const from = lineages.get(parent);
  if (!from) return parent.child(bindings, options);
  const merged = { ...from.bindings, ...bindings };
  const child = adopt(from.make(merged, options), { ...from, bindings: merged });
  if (options?.level === undefined) child.level = parent.level;
  const component = bindings.component;
  if (typeof component === 'string' && (from.trace.has(component) || from.trace.has('all'))) child.level = 'debug';
  return child;
}

/**
 * A child logger for one component (replacing the parent's component, if any). When the
 * component is named in the root's trace set it logs at debug even if the root level is higher.
 */
export function componentLogger(parent: Logger, component: string, bindings: Record<string, unknown> = {}): Logger {
  return childLogger(parent, { component, ...bindings });
}

/** Parses `TABBY_TRACE`-style lists: "bgp-fsm, ipam" → ["bgp-fsm", "ipam"]. */
export function parseTraceList(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
