/**
 * The pure parts of TLS and authentication between services: which files a service dials
 * with, how connection failures are classified, NATS credentials read from files (and
 * checked), URL lists and URLs with credentials kept out of logs. Real servers are in
 * test/e2e/test/control-plane-tls.test.ts.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nkeys } from 'nats';
import { tempDir } from '@tabby/harness';
import {
  classifyDialFailure,
  clientTlsOptions,
  commonOptions,
  dialSecurity,
  isConfigError,
  loadConfig,
  natsFailureHint,
  natsOptions,
  natsSecurity,
  natsServers,
  redactNatsUrl,
  serviceDialTls,
  usage,
} from '../src/index.js';

const dir = tempDir('tabby-runtime-security-');
afterAll(() => dir.remove());

function file(name: string, text: string): string {
  const p = path.join(dir.path, name);
  writeFileSync(p, text, { mode: 0o600 });
  return p;
}

describe('serviceDialTls', () => {
  it.each([
    { name: 'nothing: plaintext', values: {}, override: undefined, want: {}, security: 'plaintext' },
    { name: 'a served cert alone does not turn on client TLS', values: { tlsCert: 'c', tlsKey: 'k' }, override: undefined, want: {}, security: 'plaintext' },
    { name: '--tls-ca: TLS', values: { tlsCa: 'ca' }, override: undefined, want: { ca: 'ca' }, security: 'tls' },
    { name: '--tls-ca with the served cert: mTLS', values: { tlsCa: 'ca', tlsCert: 'c', tlsKey: 'k' }, override: undefined, want: { ca: 'ca', cert: 'c', key: 'k' }, security: 'mtls' },
    { name: 'a per-peer override wins', values: { tlsCa: 'ca', tlsCert: 'c', tlsKey: 'k' }, override: { ca: 'ca2' }, want: { ca: 'ca2' }, security: 'tls' },
    { name: 'an empty override is no override', values: { tlsCa: 'ca' }, override: { ca: undefined }, want: { ca: 'ca' }, security: 'tls' },
  ])('$name', ({ values, override, want, security }) => {
    const got = serviceDialTls(values, override);
    expect(Object.fromEntries(Object.entries(got).filter(([, v]) => v !== undefined))).toEqual(want);
    expect(dialSecurity(got)).toBe(security);
  });

  it('reads --tls-ca and TABBY_TLS_CA, and --help lists it beside the served --tls-cert', () => {
    const spec = { ...commonOptions, ...clientTlsOptions };
    const fromEnv = loadConfig('tabby-x', spec, [], { TABBY_TLS_CA: '/ca.pem' });
    expect(fromEnv.kind === 'values' && fromEnv.values.tlsCa).toBe('/ca.pem');
    const text = usage('tabby-x', spec);
    expect(text).toContain('--tls-ca FILE');
    expect(text).toContain('[env TABBY_TLS_CA]');
  });
});

describe('classifyDialFailure', () => {
  it.each([
    ['No connection established. Last error: Error: 40E8A2:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required', 'client-certificate-required'],
    ['No connection established. Last error: Error: self-signed certificate in certificate chain', 'unknown-ca'],
    ['No connection established. Last error: Error: 0A00010B:SSL routines::wrong version number', 'not-tls'],
    ["No connection established. Last error: Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames", 'name-mismatch'],
    ['No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1', 'connection-refused'],
    ['No connection established. Last error: Connection dropped', 'dropped-during-setup'],
    ['No connection established. Last error: getaddrinfo ENOTFOUND store', 'unresolved'],
    // Over replicas (round_robin) grpc-js nests the cause twice behind the policy's name.
    ['round_robin: No connection established. Last error: No connection established. Last error: Failed to connect (2026-12-06T04:21:29.781Z). Resolution note: ', 'dropped-during-setup'],
    ['Deadline exceeded', undefined],
  ])('%s → %s', (details, kind) => {
    expect(classifyDialFailure(details)).toBe(kind);
  });
});

describe('natsSecurity', () => {
  const seedOf = (): { seed: string; publicKey: string } => {
    const user = (nkeys as { createUser(): { getSeed(): Uint8Array; getPublicKey(): string } }).createUser();
    return { seed: new TextDecoder().decode(user.getSeed()), publicKey: user.getPublicKey() };
  };

  it('reads a password file without its newline, and describes the user without the password', () => {
    const s = natsSecurity({ natsUser: 'tabby', natsPasswordFile: file('pw', 's3cret\n') });
    expect(s.connect).toEqual({ user: 'tabby', pass: 's3cret' });
    expect(s.describe).toEqual({ auth: 'user', user: 'tabby', tls: 'off' });
    expect(JSON.stringify(s.describe)).not.toContain('s3cret');
  });

  it('reads an NKey seed file (alone or among other lines) and names its public key', () => {
    const { seed, publicKey } = seedOf();
    for (const text of [`${seed}\n`, `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`]) {
      const s = natsSecurity({ natsNkeySeedFile: file('seed.nk', text) });
      expect(s.describe).toEqual({ auth: 'nkey', nkey: publicKey, tls: 'off' });
      expect(typeof s.connect.authenticator).toBe('function');
    }
  });

  it('reads the TLS files: a CA is TLS, a client certificate mTLS', () => {
    const ca = file('ca.pem', 'CA PEM');
    expect(natsSecurity({ natsTlsCa: ca })).toEqual({ describe: { auth: 'none', tls: 'tls' }, connect: { tls: { ca: 'CA PEM' } } });
    const s = natsSecurity({ natsTlsCa: ca, natsTlsCert: file('c.pem', 'CERT'), natsTlsKey: file('k.pem', 'KEY') });
    expect(s.describe.tls).toBe('mtls');
    expect(s.connect.tls).toEqual({ ca: 'CA PEM', cert: 'CERT', key: 'KEY' });
  });

  it.each([
    { name: 'password and password file', values: { natsUser: 'u', natsPassword: 'p', natsPasswordFile: '/x' }, error: 'give --nats-password or --nats-password-file, not both' },
    { name: 'password without user', values: { natsPassword: 'p' }, error: 'a NATS password needs --nats-user' },
    { name: 'user and NKey', values: { natsUser: 'u', natsNkeySeedFile: '/x' }, error: 'give --nats-user or --nats-nkey-seed-file, not both' },
    { name: 'missing password file', values: { natsUser: 'u', natsPasswordFile: '/nonexistent/pw' }, error: 'cannot read NATS password file /nonexistent/pw: ENOENT' },
    { name: 'cert without key', values: { natsTlsCert: '/c' }, error: 'a NATS client certificate needs both --nats-tls-cert and --nats-tls-key' },
    { name: 'missing CA', values: { natsTlsCa: '/nonexistent/ca.pem' }, error: 'cannot read NATS CA /nonexistent/ca.pem: ENOENT' },
  ])('refuses $name with a ConfigError', ({ values, error }) => {
    let caught: unknown;
    try {
      natsSecurity(values);
    } catch (err) {
      caught = err;
    }
    expect(isConfigError(caught)).toBe(true);
    expect((caught as Error).message).toBe(error);
  });

  it('refuses a seed file that holds no NKey seed', () => {
    expect(() => natsSecurity({ natsNkeySeedFile: file('bad.nk', 'not a seed\n') })).toThrow(/--nats-nkey-seed-file .*: not an NKey seed/);
  });

  it('every NATS flag has its TABBY_ variable', () => {
    const text = usage('tabby-x', natsOptions);
    for (const v of ['TABBY_NATS_USER', 'TABBY_NATS_PASSWORD', 'TABBY_NATS_PASSWORD_FILE', 'TABBY_NATS_NKEY_SEED_FILE', 'TABBY_NATS_TLS_CA', 'TABBY_NATS_TLS_CERT', 'TABBY_NATS_TLS_KEY'])
      expect(text).toContain(`[env ${v}]`);
  });
});

describe('NATS URLs and failures', () => {
  it('splits a comma list of servers', () => {
    expect(natsServers('nats://a:4222, nats://b:4222,,')).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(natsServers('nats://a:4222')).toEqual(['nats://a:4222']);
  });

  it('keeps credentials in URLs out of logs', () => {
    expect(redactNatsUrl('nats://tabby:s3cret@a:4222,nats://b:4222,tls://t0ken@c:4222')).toBe('nats://[redacted]@a:4222,nats://b:4222,tls://[redacted]@c:4222');
    expect(redactNatsUrl('nats://a:4222')).toBe('nats://a:4222');
  });

  it.each([
    [{ code: 'AUTHORIZATION_VIOLATION', message: 'Authorization Violation' }, 'off', /^NATS refused the credentials/],
    [{ code: 'TIMEOUT', message: 'TIMEOUT' }, 'tls', /--nats-tls-cert and --nats-tls-key/],
    [{ code: 'TIMEOUT', message: 'TIMEOUT' }, 'off', /--nats-tls-ca/],
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }, 'off', /^connection refused/],
  ] as const)('%o (%s) → %s', (err, tls, hint) => {
    expect(natsFailureHint(Object.assign(new Error(err.message), { code: err.code }), tls)).toMatch(hint);
  });
});
