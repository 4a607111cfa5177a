import type * as Nats from 'nats';
import type { ConnectionOptions, TlsOptions } from 'nats';
import { ConfigError, option } from './config.js';
import { readPem } from './tls.js';
import { lazy } from './lazy.js';

const nats = lazy<typeof Nats>('nats');

/**
 * Flags of every service that uses NATS: who it is (user and password, or an NKey) and
 * TLS to the server. Secrets come from files (or `TABBY_NATS_PASSWORD`) and are never logged.
 */
export const natsOptions = {
  natsUser: option.optionalString('NATS user (with --nats-password or --nats-password-file)', 'NAME'),
  natsPassword: option.optionalString('NATS password of --nats-user (prefer --nats-password-file; never logged)', 'PASSWORD'),
  natsPasswordFile: option.optionalString('file holding the NATS password of --nats-user (one trailing newline ignored)', 'FILE'),
  natsNkeySeedFile: option.optionalString('file holding the NKey user seed (SU...) to authenticate to NATS with, instead of a user', 'FILE'),
  natsTlsCa: option.optionalString('PEM CA the NATS server\'s certificate must chain to (turns on TLS to NATS)', 'FILE'),
  natsTlsCert: option.optionalString('PEM client certificate for NATS (for servers that verify clients; turns on TLS)', 'FILE'),
  natsTlsKey: option.optionalString('PEM key of --nats-tls-cert', 'FILE'),
};

/** The values of {@link natsOptions}. */
export interface NatsSecurityValues {
  readonly natsUser?: string | undefined;
  readonly natsPassword?: string | undefined;
  readonly natsPasswordFile?: string | undefined;
  readonly natsNkeySeedFile?: string | undefined;
  readonly natsTlsCa?: string | undefined;
  readonly natsTlsCert?: string | undefined;
  readonly natsTlsKey?: string | undefined;
}

/**
 * How a NATS connection authenticates, read and checked once at start. `describe` is what
 * logs show (the user or the NKey's public key, TLS or not); the secrets are in `connect`.
 */
export interface NatsSecurity {
  /** For logs: e.g. `{ auth: 'user', user: 'tabby', tls: 'mtls' }`, never a secret. */
  readonly describe: { readonly auth: 'none' | 'user' | 'nkey'; readonly user?: string; readonly nkey?: string; readonly tls: 'off' | 'tls' | 'mtls' };
  /** The options merged into `connect()`. */
  readonly connect: Pick<ConnectionOptions, 'user' | 'pass' | 'authenticator' | 'tls'>;
}

interface NkeyPair {
  getPublicKey(): string;
}

function nkeyPublicKey(seed: Uint8Array, file: string): string {
  // The nats package types nkeys as any; this is the one call made on it.
  const lib = nats().nkeys as { fromSeed(seed: Uint8Array): NkeyPair };
  let key: string;
  try {
    key = lib.fromSeed(seed).getPublicKey();
  } catch (err) {
    throw new ConfigError(`--nats-nkey-seed-file ${file}: not an NKey seed`, { cause: err });
  }
  if (!key.startsWith('U')) throw new ConfigError(`--nats-nkey-seed-file ${file}: not a user NKey seed (expected SU...)`);
  return key;
}

/**
 * Reads the files of {@link natsOptions} and checks they fit together; a
 * {@link ConfigError} naming the flag when not (a missing file, a password without a user,
 * a user and an NKey both).
 */
export function natsSecurity(values: NatsSecurityValues): NatsSecurity {
  if (values.natsPassword !== undefined && values.natsPasswordFile !== undefined) throw new ConfigError('give --nats-password or --nats-password-file, not both');
  let pass = values.natsPassword;
  if (values.natsPasswordFile !== undefined) pass = readPem(values.natsPasswordFile, 'NATS password file').toString('utf8').replace(/\r?\n$/, '');
  if (pass !== undefined && values.natsUser === undefined) throw new ConfigError('a NATS password needs --nats-user');
  if (values.natsUser !== undefined && values.natsNkeySeedFile !== undefined) throw new ConfigError('give --nats-user or --nats-nkey-seed-file, not both');
  const connect: { -readonly [K in keyof NatsSecurity['connect']]: NatsSecurity['connect'][K] } = {};
  let describe: NatsSecurity['describe'] = { auth: 'none', tls: 'off' };
  if (values.natsUser !== undefined) {
    connect.user = values.natsUser;
    if (pass !== undefined) connect.pass = pass;
    describe = { auth: 'user', user: values.natsUser, tls: 'off' };
  } else if (values.natsNkeySeedFile !== undefined) {
    // The file may hold the seed alone or as `nk -gen user` writes it; the first SU... line is the seed.
    const text = readPem(values.natsNkeySeedFile, 'NKey seed file').toString('utf8');
    const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l.startsWith('SU')) ?? text.trim();
    const seed = new TextEncoder().encode(line);
    const publicKey = nkeyPublicKey(seed, values.natsNkeySeedFile);
    connect.authenticator = nats().nkeyAuthenticator(seed);
    describe = { auth: 'nkey', nkey: publicKey, tls: 'off' };
  }
  if (Boolean(values.natsTlsCert) !== Boolean(values.natsTlsKey)) throw new ConfigError('a NATS client certificate needs both --nats-tls-cert and --nats-tls-key');
  if (values.natsTlsCa || values.natsTlsCert) {
    const tls: TlsOptions = {};
    if (values.natsTlsCa) tls.ca = readPem(values.natsTlsCa, 'NATS CA').toString('utf8');
    if (values.natsTlsCert && values.natsTlsKey) {
      tls.cert = readPem(values.natsTlsCert, 'NATS client certificate').toString('utf8');
      tls.key = readPem(values.natsTlsKey, 'NATS client key').toString('utf8');
    }
    connect.tls = tls;
    describe = { ...describe, tls: values.natsTlsCert ? 'mtls' : 'tls' };
  }
  return { describe, connect };
}
