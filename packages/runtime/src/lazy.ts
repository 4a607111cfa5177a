import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A dependency loaded on first use. Every module of this package is loaded with its index
 * (ESM evaluates a whole import graph), and tabbyctl, the CNI plugin and the clients import
 * the index for a few helpers: the server-side libraries (metrics, NATS, reflection, health,
 * pino) would otherwise cost every CLI call hundreds of milliseconds before it does anything.
 */
export function lazy<T>(id: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= require(id) as T);
}
