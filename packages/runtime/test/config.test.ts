import { describe, expect, it } from 'vitest';
import { ConfigError, envName, loadConfig, option, optionTable, parseHostPort } from '../src/index.js';

const spec = {
  listen: option.address('gRPC listen address', '127.0.0.1:50051'),
  dataDir: option.string('data directory', './data', 'DIR'),
  nats: option.optionalString('NATS URL', 'URL'),
  retention: option.integer('events kept', 100, 1, 1000),
  mode: option.oneOf('mode', 'a', ['a', 'b'] as const),
  verbose: option.flag('talk more'),
};

function values(argv: string[], env: Record<string, string> = {}) {
  const r = loadConfig('tabby-x', spec, argv, env);
  if (r.kind !== 'values') throw new Error(r.kind);
  return r.values;
}

describe('loadConfig', () => {
  it('takes defaults, then TABBY_* variables, then flags', () => {
    expect(values([])).toMatchObject({ listen: { host: '127.0.0.1', port: 50051 }, dataDir: './data', nats: undefined, retention: 100, mode: 'a', verbose: false });
    expect(values([], { TABBY_DATA_DIR: '/var/lib/tabby', TABBY_RETENTION: '7', TABBY_VERBOSE: 'true' })).toMatchObject({
      dataDir: '/var/lib/tabby',
      retention: 7,
      verbose: true,
    });
    expect(values(['--data-dir', '/flag', '--listen', '[::1]:9'], { TABBY_DATA_DIR: '/env' })).toMatchObject({
      dataDir: '/flag',
      listen: { host: '::1', port: 9, text: '[::1]:9' },
    });
  });

  it.each([
    [['--listen', 'nowhere'], {}, 'invalid --listen "nowhere": expected HOST:PORT (IPv6 as [ADDR]:PORT)'],
    [['--listen', '127.0.0.1:70000'], {}, 'invalid --listen "127.0.0.1:70000": port 70000 is out of range 0-65535'],
    [[], { TABBY_RETENTION: 'lots' }, 'invalid TABBY_RETENTION "lots": expected an integer'],
    [['--retention', '0'], {}, 'invalid --retention "0": expected an integer from 1 to 1000'],
    [['--mode', 'c'], {}, 'invalid --mode "c": expected one of a, b'],
    [[], { TABBY_VERBOSE: 'maybe' }, 'invalid TABBY_VERBOSE "maybe": expected true or false'],
    [['--frobnicate'], {}, "unknown flag '--frobnicate' (see tabby-x --help)"],
  ] as const)('refuses %j %j with a message naming the flag', (argv, env, message) => {
    expect(() => loadConfig('tabby-x', spec, argv, env)).toThrow(new ConfigError(message));
  });

  it('prints help with every flag, its variable and default', () => {
    const r = loadConfig('tabby-x', spec, ['--help'], {});
    expect(r.kind).toBe('help');
    const text = r.kind === 'help' ? r.text : '';
    expect(text).toContain('Usage: tabby-x [flags]');
    expect(text).toMatch(/--listen HOST:PORT +gRPC listen address \[env TABBY_LISTEN; default 127\.0\.0\.1:50051\]/);
    expect(text).toMatch(/--nats URL +NATS URL \[env TABBY_NATS\]/);
  });

  it('names the environment variable of each flag', () => {
    expect(envName('dataDir')).toBe('TABBY_DATA_DIR');
    expect(envName('tlsClientCa')).toBe('TABBY_TLS_CLIENT_CA');
    expect(optionTable(spec).map((r) => [r.flag, r.env, r.default])).toContainEqual(['--retention', 'TABBY_RETENTION', '100']);
  });
});

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0, text: '127.0.0.1:0' }],
    ['localhost:50051', { host: 'localhost', port: 50051, text: 'localhost:50051' }],
    ['[fd00::1]:179', { host: 'fd00::1', port: 179, text: '[fd00::1]:179' }],
  ])('parses %s', (raw, expected) => {
    expect(parseHostPort(raw)).toEqual({ value: expected });
  });
  it.each(['127.0.0.1', 'fd00::1:179', ':80', '1.2.3.4:-1', '1.2.3.4:65536'])('refuses %s', (raw) => {
    expect('error' in parseHostPort(raw)).toBe(true);
  });
});
