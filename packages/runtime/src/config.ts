import { parseArgs } from 'node:util';

/** A configuration problem the operator must fix; the message names the flag and value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Type guard for {@link ConfigError}. */
export function isConfigError(err: unknown): err is ConfigError {
  return err instanceof ConfigError;
}

/**
 * One option of a service: read from `--<flag>` or, failing that, from `TABBY_<FLAG>`
 * (upper case, dashes as underscores), else its default. `parse` turns the raw text into
 * the value or returns an error message such as "expected HOST:PORT".
 */
export interface OptionSpec<T> {
  readonly description: string;
  readonly placeholder: string;
  readonly kind: 'string' | 'boolean';
  readonly defaultValue: T;
  readonly defaultText?: string;
  readonly parse: (raw: string) => { value: T } | { error: string };
}

export type ConfigSpec = Record<string, OptionSpec<unknown>>;
export type ConfigValues<S extends ConfigSpec> = { [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never };

/** A listen or dial address. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
  /** `host:port`, with IPv6 hosts in brackets. */
  readonly text: string;
}

/** Parses `HOST:PORT` or `[IPv6]:PORT`; port 0 asks the OS for a free port. */
export function parseHostPort(raw: string): { value: HostPort } | { error: string } {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(raw) ?? /^([^:[\]\s]+):(\d+)$/.exec(raw);
  if (!m) return { error: 'expected HOST:PORT (IPv6 as [ADDR]:PORT)' };
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { error: `port ${m[2]} is out of range 0-65535` };
  const host = m[1];
  return { value: { host, port, text: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` } };
}

function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The environment variable that backs an option: `dataDir` → `TABBY_DATA_DIR`. */
export function envName(key: string): string {
  return `TABBY_${flagName(key).replace(/-/g, '_').toUpperCase()}`;
}

/** Option builders. */
export const option = {
  string(description: string, defaultValue: string, placeholder = 'VALUE'): OptionSpec<string> {
    return { description, placeholder, kind: 'string', defaultValue, parse: (raw) => ({ value: raw }) };
  },
  optionalString(description: string, placeholder = 'VALUE'): OptionSpec<string | undefined> {
    return {
      description,
      placeholder,
      kind: 'string',
      defaultValue: undefined,
      parse: (raw) => (raw === '' ? { value: undefined } : { value: raw }),
    };
  },
  address(description: string, defaultValue: string): OptionSpec<HostPort> {
    const parsed = parseHostPort(defaultValue);
    if ('error' in parsed) throw new Error(`bad default address ${defaultValue}`);
    return { description, placeholder: 'HOST:PORT', kind: 'string', defaultValue: parsed.value, defaultText: defaultValue, parse: parseHostPort };
  },
  optionalAddress(description: string): OptionSpec<HostPort | undefined> {
    return {
      description,
      placeholder: 'HOST:PORT',
      kind: 'string',
      defaultValue: undefined,
      parse: (raw) => (raw === '' || raw === 'off' ? { value: undefined } : parseHostPort(raw)),
    };
  },
  integer(description: string, defaultValue: number, min: number, max: number): OptionSpec<number> {
    return {
      description,
      placeholder: 'N',
      kind: 'string',
      defaultValue,
      parse: (raw) => {
        if (!/^-?\d+$/.test(raw)) return { error: 'expected an integer' };
        const n = Number(raw);
        if (n < min || n > max) return { error: `expected an integer from ${min} to ${max}` };
        return { value: n };
      },
    };
  },
  oneOf<T extends string>(description: string, defaultValue: T, choices: readonly T[]): OptionSpec<T> {
    const list = choices.join('|');
    return {
      description: list.length > 16 ? `${description} (${choices.join(', ')})` : description,
      placeholder: list.length > 16 ? 'VALUE' : list,
      kind: 'string',
      defaultValue,
      parse: (raw) =>
        (choices as readonly string[]).includes(raw) ? { value: raw as T } : { error: `expected one of ${choices.join(', ')}` },
    };
  },
  flag(description: string): OptionSpec<boolean> {
    return {
      description,
      placeholder: '',
      kind: 'boolean',
      defaultValue: false,
      parse: (raw) => {
        if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return { value: true };
        if (['0', 'false', 'no', 'off', ''].includes(raw.toLowerCase())) return { value: false };
        return { error: 'expected true or false' };
      },
    };
  },
};

/** What `loadConfig` found: the values, or a request for help/version text. */
export type LoadedConfig<S extends ConfigSpec> =
  | { kind: 'values'; values: ConfigValues<S> }
  | { kind: 'help'; text: string }
  | { kind: 'version' };

/**
 * Reads a service's options from argv and the environment. Flags win over `TABBY_*`
 * variables, which win over defaults. Throws {@link ConfigError} naming the flag, the
 * value and what was expected.
 */
export function loadConfig<S extends ConfigSpec>(
  program: string,
  spec: S,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): LoadedConfig<S> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' }, version: { type: 'boolean' } };
  for (const [key, o] of Object.entries(spec)) options[flagName(key)] = { type: o.kind };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new ConfigError(`${msg.replace(/\. To specify.*$/s, '').replace(/^Unknown option/, 'unknown flag')} (see ${program} --help)`, {
      cause: err,
    });
  }
  if (parsed.values.help === true) return { kind: 'help', text: usage(program, spec) };
  if (parsed.values.version === true) return { kind: 'version' };
  const values: Record<string, unknown> = {};
  for (const [key, o] of Object.entries(spec)) {
    const flag = flagName(key);
    const fromFlag = parsed.values[flag];
    const fromEnv = env[envName(key)];
    let raw: string | undefined;
    let source: string;
    if (fromFlag !== undefined) {
      raw = typeof fromFlag === 'boolean' ? String(fromFlag) : String(fromFlag);
      source = `--${flag}`;
    } else if (fromEnv !== undefined) {
      raw = fromEnv;
      source = envName(key);
    } else {
      values[key] = o.defaultValue;
      continue;
    }
    const result = o.parse(raw);
    if ('error' in result) throw new ConfigError(`invalid ${source} ${JSON.stringify(raw)}: ${result.error}`);
    values[key] = result.value;
  }
  return { kind: 'values', values: values as ConfigValues<S> };
}

function defaultTextOf(o: OptionSpec<unknown>): string {
  if (o.defaultText !== undefined) return o.defaultText;
  const v = o.defaultValue;
  return typeof v === 'string' || typeof v === 'number' || v === true ? String(v) : '';
}

/** The `--help` text: one line per option with its variable and default. */
export function usage(program: string, spec: ConfigSpec): string {
  const rows = Object.entries(spec).map(([key, o]) => {
    const flag = `--${flagName(key)}${o.placeholder ? ` ${o.placeholder}` : ''}`;
    const def = defaultTextOf(o);
    return { flag, text: `${o.description} [env ${envName(key)}${def ? `; default ${def}` : ''}]` };
  });
  const width = Math.max(...rows.map((r) => r.flag.length), 10);
  return [
    `Usage: ${program} [flags]`,
    '',
    'Flags (each also read from the environment variable shown):',
    ...rows.map((r) => `  ${r.flag.padEnd(width)}  ${r.text}`),
    `  ${'--help'.padEnd(width)}  print this help`,
    `  ${'--version'.padEnd(width)}  print the version`,
    '',
  ].join('\n');
}

/** Options of the markdown table documenting a service's flags (used by README checks). */
export function optionTable(spec: ConfigSpec): { flag: string; env: string; default: string; description: string }[] {
  return Object.entries(spec).map(([key, o]) => ({
    flag: `--${flagName(key)}`,
    env: envName(key),
    default: defaultTextOf(o),
    description: o.description,
  }));
}
