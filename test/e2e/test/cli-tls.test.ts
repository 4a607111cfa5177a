/**
 * tabbyctl against a store that serves mTLS: with the CA and a client certificate (flags,
 * variables or the config file) it works; without them it says what is wrong in one line.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessGroup, makeCerts, startService, tempDir, type TestCerts } from '@tabby/harness';
import { tabbyctl } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-cli-tls-');
let certs: TestCerts;
let address: string;

beforeAll(async () => {
  certs = makeCerts(dir.path);
  const store = await startService(group, 'store', [
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    `${dir.path}/store`,
    '--tls-cert',
    certs.serverCert,
    '--tls-key',
    certs.serverKey,
    '--tls-client-ca',
    certs.ca,
  ]);
  address = store.address;
}, 30_000);

afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

it('talks mTLS with the CA and a client certificate from flags, variables or the config file', async () => {
  const flags = ['--store', address, '--tls-ca', certs.ca, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey];
  const viaFlags = await tabbyctl([...flags, 'get', 'ippool'], { cwd: dir.path });
  expect(viaFlags).toEqual({ code: 0, stdout: 'NAME   CIDR   SELECTOR   \n\n', stderr: '' });

  const viaEnv = await tabbyctl(['get', 'ippool'], {
    cwd: dir.path,
    env: { TABBY_STORE_ADDR: address, TABBY_TLS_CA: certs.ca, TABBY_TLS_CERT: certs.clientCert, TABBY_TLS_KEY: certs.clientKey },
  });
  expect(viaEnv.code).toBe(0);

  const cfg = path.join(dir.path, 'tabbyctl.yaml');
  writeFileSync(cfg, `store: ${address}\ntls:\n  ca: ${path.basename(certs.ca)}\n  cert: ${path.basename(certs.clientCert)}\n  key: ${path.basename(certs.clientKey)}\n`);
  const viaFile = await tabbyctl(['--config', cfg, 'version'], { cwd: dir.path });
  expect(viaFile.code).toBe(0);
  expect(viaFile.stdout).toContain('Cluster Type:      tabby,sqlite');
}, 60_000);

it('fails in one line without a client certificate or with a missing file', async () => {
  const noCert = await tabbyctl(['--store', address, '--tls-ca', certs.ca, 'get', 'ippool'], { cwd: dir.path });
  expect(noCert.code).toBe(1);
  expect(noCert.stdout).toBe('');
  expect(noCert.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
  expect(noCert.stderr).toBe(`cannot reach the Tabby store at ${address} (the store requires a client certificate: set --tls-cert and --tls-key)\n`);

  const plain = await tabbyctl(['--store', address, 'get', 'ippool'], { cwd: dir.path });
  expect(plain.code).toBe(1);
  expect(plain.stderr).toBe(
    `cannot reach the Tabby store at ${address} (the store closed the connection during setup; if it serves TLS, set --tls-ca, and for mTLS a --tls-cert/--tls-key its client CA signed)\n`,
  );

  const wrongCa = await tabbyctl(['--store', address, '--tls-ca', certs.rogueCert, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey, 'get', 'ippool'], { cwd: dir.path });
  expect(wrongCa.stderr).toBe(`cannot reach the Tabby store at ${address} (the store's certificate is not signed by the CA of --tls-ca)\n`);

  const missing = await tabbyctl(['--store', address, '--tls-ca', '/nonexistent/ca.pem', 'get', 'ippool'], { cwd: dir.path });
  expect(missing).toEqual({ code: 1, stdout: '', stderr: 'cannot read CA /nonexistent/ca.pem: ENOENT\n' });
}, 60_000);
