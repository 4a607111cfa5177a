/**
 * TLS and authentication inside the control plane, with real processes: tabby-store serves
 * mTLS, and tabby-ipam and tabby-topology reach it (and topology reaches ipam) only with the
 * CA and a certificate its client CA signed; nats-server requires TLS with a client
 * certificate and a user (password or NKey), and a service with the wrong credentials is
 * refused in a log line that says why, while one with the right ones publishes events a
 * subscriber receives. Certificates and the NKey are made at test time.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nkeys } from 'nats';
import { NatsBus, createLogger, natsSecurity } from '@tabby/runtime';
import { ProcessGroup, eventually, makeCerts, startNats, startService, tempDir, type NatsServer, type TestCerts } from '@tabby/harness';
import { tabbyctl } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-control-plane-tls-');
let certs: TestCerts;
let store: string;
const PASSWORD = 'tabby-s3cret-pw';

/** A JSON log line of a process whose msg matches, parsed. */
function logLine(output: string, msg: RegExp): Record<string, unknown> | undefined {
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const obj = JSON.parse(line) as Record<string, unknown>;
    if (typeof obj.msg === 'string' && msg.test(obj.msg)) return obj;
  }
  return undefined;
}

beforeAll(async () => {
  certs = makeCerts(dir.path);
  const s = await startService(group, 'store', [
    '--listen', '127.0.0.1:0',
    '--data-dir', path.join(dir.path, 'store'),
    '--tls-cert', certs.serverCert,
    '--tls-key', certs.serverKey,
    '--tls-client-ca', certs.ca,
  ]);
  store = s.address;
}, 30_000);

afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

describe('gRPC between services', () => {
  it('ipam without a client certificate cannot reach the mTLS store, and says so naming the address and TLS', async () => {
    const plain = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir.path, 'ipam-plain'), '--store', store]);
    const line = await eventually('the "cannot list from the store" line', () => logLine(plain.process.output(), /^cannot list from the store/), 20_000);
    expect(line).toMatchObject({ store });
    expect(String(line.hint)).toMatch(/TLS/);
    expect(logLine(plain.process.output(), /^gRPC client$/)).toMatchObject({ peer: 'tabby-store', address: store, security: 'plaintext' });

    const noCert = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir.path, 'ipam-nocert'), '--store', store, '--tls-ca', certs.ca]);
    const refused = await eventually('the "cannot list from the store" line', () => logLine(noCert.process.output(), /^cannot list from the store/), 20_000);
    expect(refused).toMatchObject({ store, hint: 'TLS: the server requires a client certificate; set --tls-cert and --tls-key (signed by its client CA) with --tls-ca' });
    expect(logLine(noCert.process.output(), /^gRPC client$/)).toMatchObject({ peer: 'tabby-store', address: store, security: 'tls' });

    // Neither serves: health stays NOT_SERVING until the store has been listed.
    for (const p of [plain, noCert]) {
      const health = await tabbyctl(['health', p.address], { cwd: dir.path });
      expect(health).toMatchObject({ code: 1, stdout: 'NOT_SERVING\n' });
      await p.process.stop();
    }
  }, 60_000);

  it('ipam and topology with the CA and a peer certificate reach the store (and topology ipam), serving mTLS themselves', async () => {
    const tls = ['--tls-ca', certs.ca, '--tls-cert', certs.peerCert, '--tls-key', certs.peerKey, '--tls-client-ca', certs.ca];
    const ipam = await startService(group, 'ipam', ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir.path, 'ipam'), '--store', store, ...tls]);
    await ipam.process.waitForLine(/"security":"mtls".*"msg":"gRPC client"/, 10_000);
    const topology = await startService(group, 'topology', ['--listen', '127.0.0.1:0', '--store', store, '--ipam', ipam.address], {
      env: { TABBY_TLS_CA: certs.ca, TABBY_TLS_CERT: certs.peerCert, TABBY_TLS_KEY: certs.peerKey, TABBY_TLS_CLIENT_CA: certs.ca },
    });
    await topology.process.waitForLine(/"msg":"in sync; serving"/, 20_000);
    expect(topology.process.output()).toMatch(/"peer":"tabby-ipam","address":"[^"]+","security":"mtls"/);

    const client = ['--tls-ca', certs.ca, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey];
    const created = await tabbyctl([...client, '--store', store, 'create', '-f', '-'], {
      cwd: dir.path,
      stdin: 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: pool1\nspec:\n  cidr: 10.77.0.0/16\n',
    });
    expect(created.stderr).toBe('');
    for (const [address, service] of [[ipam.address, 'tabby.v1.Ipam'], [topology.address, 'tabby.v1.Topology']] as const) {
      const health = await eventually(`${service} serving over mTLS`, async () => {
        const h = await tabbyctl([...client, 'health', address, '--service', service], { cwd: dir.path });
        return h.code === 0 ? h : undefined;
      }, 20_000, 200);
      expect(health.stdout).toBe('SERVING\n');
    }
    // Without a client certificate tabbyctl is refused by ipam too.
    const refused = await tabbyctl(['--tls-ca', certs.ca, '--ipam', ipam.address, 'ipam', 'show'], { cwd: dir.path });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('requires a client certificate');
  }, 60_000);
});

describe('NATS with TLS and a user', () => {
  let nats: NatsServer;
  let seedFile: string;
  let passwordFile: string;

  beforeAll(async () => {
    const lib = nkeys as { createUser(): { getSeed(): Uint8Array; getPublicKey(): string } };
    const user = lib.createUser();
    seedFile = path.join(dir.path, 'subscriber.nk');
    writeFileSync(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600 });
    passwordFile = path.join(dir.path, 'nats-password');
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    const config = path.join(dir.path, 'nats.conf');
    writeFileSync(
      config,
      [
        'tls {',
        `  cert_file: "${certs.serverCert}"`,
        `  key_file: "${certs.serverKey}"`,
        `  ca_file: "${certs.ca}"`,
        '  verify: true',
        '}',
        'authorization {',
        '  users: [',
        `    { user: "tabby", password: "${PASSWORD}" }`,
        `    { nkey: "${user.getPublicKey()}" }`,
        '  ]',
        '}',
        '',
      ].join('\n'),
    );
    nats = await startNats(group, dir.path, { config });
  }, 30_000);

  const natsTls = (): string[] => ['--nats-tls-ca', certs.ca, '--nats-tls-cert', certs.clientCert, '--nats-tls-key', certs.clientKey];

  it('refuses a wrong password, missing credentials and a missing client certificate, each in a clear log line, the password never logged', async () => {
    // Started together: each waits up to 5 s for NATS before it serves without events.
    const [wrong, anonymous, noCert] = await Promise.all([
      startService(group, 'store', [
        '--listen', '127.0.0.1:0', '--data-dir', path.join(dir.path, 'store-wrong'), '--nats', nats.url,
        '--nats-user', 'tabby', '--nats-password', 'not-the-password', ...natsTls(),
      ]),
      startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir.path, 'store-anon'), '--nats', nats.url, ...natsTls()]),
      startService(group, 'store', [
        '--listen', '127.0.0.1:0', '--data-dir', path.join(dir.path, 'store-nocert'), '--nats', nats.url,
        '--nats-user', 'tabby', '--nats-password-file', passwordFile, '--nats-tls-ca', certs.ca,
      ]),
    ]);
    const denied = await eventually('the NATS failure line', () => logLine(wrong.process.output(), /^NATS connect failed/), 20_000);
    expect(denied).toMatchObject({ level: 'error', auth: 'user', user: 'tabby', tls: 'mtls' });
    expect(String(denied.hint)).toMatch(/^NATS refused the credentials/);
    expect(wrong.process.output()).not.toContain('not-the-password');

    const anon = await eventually('the NATS failure line', () => logLine(anonymous.process.output(), /^NATS connect failed/), 20_000);
    expect(String(anon.hint)).toMatch(/^NATS refused the credentials/);

    const tlsFail = await eventually('the NATS failure line', () => logLine(noCert.process.output(), /^NATS connect failed/), 20_000);
    expect(tlsFail).toMatchObject({ tls: 'tls', hint: expect.stringContaining('--nats-tls-cert and --nats-tls-key') as unknown });
    for (const p of [wrong, anonymous, noCert]) await p.process.stop();
  }, 60_000);

  it('a store with the password file and TLS publishes resource events an NKey subscriber receives; a comma list of URLs works', async () => {
    const natsStore = await startService(group, 'store', [
      '--listen', '127.0.0.1:0', '--data-dir', path.join(dir.path, 'store-nats'),
      // The first server is down: any server of the list will do.
      '--nats', `nats://127.0.0.1:1,${nats.url}`,
    ], {
      env: { TABBY_NATS_USER: 'tabby', TABBY_NATS_PASSWORD_FILE: passwordFile, TABBY_NATS_TLS_CA: certs.ca, TABBY_NATS_TLS_CERT: certs.clientCert, TABBY_NATS_TLS_KEY: certs.clientKey },
    });
    await natsStore.process.waitForLine(/"msg":"NATS connected"/, 20_000);
    expect(natsStore.process.output()).not.toContain(PASSWORD);

    const logger = createLogger({ service: 'test-subscriber', level: 'silent' });
    const security = natsSecurity({ natsNkeySeedFile: seedFile, natsTlsCa: certs.ca, natsTlsCert: certs.clientCert, natsTlsKey: certs.clientKey });
    expect(security.describe).toMatchObject({ auth: 'nkey', tls: 'mtls' });
    const bus = await NatsBus.connect({ url: nats.url, name: 'test-subscriber', logger, security, initialWaitMs: 10_000 });
    try {
      expect(bus.connected).toBe(true);
      const received: string[] = [];
      bus.subscribe('tabby.v1.resources.>', (_payload, subject) => received.push(subject));
      await bus.flush();
      const created = await tabbyctl(['--store', natsStore.address, 'create', '-f', '-'], {
        cwd: dir.path,
        stdin: 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: pool-events\nspec:\n  cidr: 10.88.0.0/16\n',
      });
      expect(created.stderr).toBe('');
      const subject = await eventually('a resource event over NATS', () => received[0], 10_000);
      expect(subject).toMatch(/^tabby\.v1\.resources\./);
    } finally {
      await bus.close();
    }
  }, 60_000);
});
