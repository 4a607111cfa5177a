import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SecretsDir } from '../src/secrets.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tabby-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function put(name: string, key: string, value: string): void {
  mkdirSync(path.join(dir, name), { recursive: true });
  writeFileSync(path.join(dir, name, key), value);
}

describe('SecretsDir: BGP passwords from a Kubernetes-style secret volume', () => {
  const secrets = new SecretsDir(dir);

  it('reads DIR/<name>/<key> and drops one trailing newline', () => {
    put('bgp-secrets', 'rr-password', 'very-secret\n');
    expect(secrets.read({ name: 'bgp-secrets', key: 'rr-password' })).toEqual({ value: 'very-secret' });
    put('bgp-secrets', 'exact', 'a b\t');
    expect(secrets.read({ name: 'bgp-secrets', key: 'exact' })).toEqual({ value: 'a b\t' });
  });

  it('follows the ..data symlink layout of a mounted Secret, and sees a change on the next read', () => {
    const vol = path.join(dir, 'mounted');
    mkdirSync(path.join(vol, '..2026_12_05_v1'), { recursive: true });
    writeFileSync(path.join(vol, '..2026_12_05_v1', 'pw'), 'one');
    symlinkSync('..2026_12_05_v1', path.join(vol, '..data'));
    symlinkSync('..data/pw', path.join(vol, 'pw'));
    expect(secrets.read({ name: 'mounted', key: 'pw' })).toEqual({ value: 'one' });
    writeFileSync(path.join(vol, '..2026_12_05_v1', 'pw'), 'two');
    expect(secrets.read({ name: 'mounted', key: 'pw' })).toEqual({ value: 'two' });
  });

  it('says which secret is missing, unreadable, empty or too long, never what it holds', () => {
    expect(secrets.read({ name: 'nope', key: 'k' })).toEqual({ error: `password secret nope/k: ${path.join(dir, 'nope', 'k')} not found` });
    put('empty', 'k', '\n');
    expect(secrets.read({ name: 'empty', key: 'k' })).toEqual({ error: `password secret empty/k: ${path.join(dir, 'empty', 'k')} is empty` });
    const long = 'x'.repeat(81);
    put('long', 'k', long);
    const r = secrets.read({ name: 'long', key: 'k' });
    expect(r).toEqual({ error: 'password secret long/k: longer than 80 bytes (the TCP MD5 limit)' });
    expect(JSON.stringify(r)).not.toContain(long);
    put('ok80', 'k', 'y'.repeat(80));
    expect(secrets.read({ name: 'ok80', key: 'k' })).toEqual({ value: 'y'.repeat(80) });
    if (process.getuid?.() !== 0) {
      put('locked', 'k', 'hidden');
      chmodSync(path.join(dir, 'locked', 'k'), 0o000);
      expect(secrets.read({ name: 'locked', key: 'k' })).toEqual({ error: `password secret locked/k: ${path.join(dir, 'locked', 'k')} not readable` });
    }
  });

  it('refuses names and keys that would leave the directory', () => {
    expect(secrets.read({ name: '..', key: 'passwd' })).toEqual({ error: 'password secret ../passwd: ".." is not a Secret name' });
    expect(secrets.read({ name: 'a', key: '../../etc/passwd' })).toEqual({ error: 'password secret a/../../etc/passwd: "../../etc/passwd" is not a Secret key' });
    expect(secrets.read({ name: 'a', key: '..' })).toEqual({ error: 'password secret a/..: ".." is not a Secret key' });
  });

  it('without --secrets-dir every password stays unresolved, with that reason', () => {
    expect(new SecretsDir(undefined).read({ name: 'bgp-secrets', key: 'rr-password' })).toEqual({ error: 'password secret bgp-secrets/rr-password: no --secrets-dir given' });
  });
});
