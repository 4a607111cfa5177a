import { readFileSync } from 'node:fs';
import path from 'node:path';

/** A `secretKeyRef` of a BGPPeer password or of the mesh password. */
export interface SecretRef {
  readonly name: string;
  readonly key: string;
}

/** A secret read from the directory, or why it could not be (never the value in `error`). */
export type SecretResult = { readonly value: string } | { readonly error: string };

/** Longest TCP MD5 key Linux takes (TCP_MD5SIG_MAXKEYLEN); the Calico docs say ≤ 80 characters. */
export const MAX_PASSWORD_BYTES = 80;

// Kubernetes: a Secret's name is a DNS subdomain; a key is [-._a-zA-Z0-9]+.
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const KEY = /^[-._a-zA-Z0-9]+$/;

/**
 * BGP passwords from a directory laid out like Kubernetes secret volumes: `DIR/<name>/<key>`
 * holds the value of key `key` of Secret `name` (mount each Secret at `DIR/<name>`). A file's
 * content is the password; one trailing newline (from `echo`) is dropped. Every read goes to
 * the file, so a changed secret (Kubernetes swaps the `..data` symlink) is seen on the next
 * read. Values never leave this module in logs or errors.
 */
export class SecretsDir {
  constructor(readonly dir: string | undefined) {}

  /** `name/key`, as logs and statuses name a secret. */
  static label(ref: SecretRef): string {
    return `${ref.name}/${ref.key}`;
  }

  read(ref: SecretRef): SecretResult {
    const label = SecretsDir.label(ref);
    if (!this.dir) return { error: `password secret ${label}: no --secrets-dir given` };
    if (!NAME.test(ref.name) || ref.name.includes('..')) return { error: `password secret ${label}: "${ref.name}" is not a Secret name` };
    if (!KEY.test(ref.key) || ref.key === '.' || ref.key === '..') return { error: `password secret ${label}: "${ref.key}" is not a Secret key` };
    const file = path.join(this.dir, ref.name, ref.key);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      const why = code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not readable' : code === 'EISDIR' ? 'is a directory' : code;
      return { error: `password secret ${label}: ${file} ${why}` };
    }
    const value = text.replace(/\r?\n$/, '');
    if (value === '') return { error: `password secret ${label}: ${file} is empty` };
    if (Buffer.byteLength(value) > MAX_PASSWORD_BYTES) return { error: `password secret ${label}: longer than ${MAX_PASSWORD_BYTES} bytes (the TCP MD5 limit)` };
    return { value };
  }
}
