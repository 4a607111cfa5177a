import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '@tabby/runtime';

/** The IPAM SQLite connection. */
export type Db = Database.Database;

/**
 * Schema migrations, applied in order inside one transaction each; `PRAGMA user_version`
 * records how many have run. Never edit a released step: append a new one.
 *
 * - blocks: one row per block (a pool's blockSize-sized subnet) that holds or held
 *   addresses; `node` is its affinity (NULL once released), `free_list` the free ordinals
 *   in the order they are handed out (uint32 LE; released ones go to the end, as Calico).
 * - allocations: one row per assigned address, with its handle and attributes.
 * - intents: workload adds/deletes in progress, so a crash half-way is finished or undone.
 * - instances: live ipam processes sharing this database (for intents' owners).
 * - intents.container_id / endpoint: a CNI change touches only that container's endpoint.
 */
const MIGRATIONS: readonly { name: string; sql: string }[] = [
  {
    name: 'initial schema: blocks, allocations, intents, instances, meta',
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO meta (key, value) VALUES ('block_revision', 0);
      CREATE TABLE blocks (
        cidr      TEXT    PRIMARY KEY,
        family    INTEGER NOT NULL,
        pool_cidr TEXT    NOT NULL,
        node      TEXT,
        size      INTEGER NOT NULL,
        in_use    INTEGER NOT NULL,
        free_list BLOB    NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX blocks_by_node ON blocks (node, family);
      CREATE INDEX blocks_by_pool ON blocks (pool_cidr);
      CREATE TABLE allocations (
        address    TEXT    PRIMARY KEY,
        block      TEXT    NOT NULL REFERENCES blocks (cidr),
        ordinal    INTEGER NOT NULL,
        family     INTEGER NOT NULL,
        handle     TEXT    NOT NULL,
        node       TEXT    NOT NULL,
        attributes TEXT    NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX allocations_by_handle ON allocations (handle);
      CREATE INDEX allocations_by_block ON allocations (block);
      CREATE TABLE intents (
        handle     TEXT    PRIMARY KEY,
        op         TEXT    NOT NULL,
        namespace  TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        node       TEXT    NOT NULL,
        owner      TEXT    NOT NULL,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE instances (
        id        TEXT    PRIMARY KEY,
        host      TEXT    NOT NULL,
        pid       INTEGER NOT NULL,
        heartbeat INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    name: 'intents: container id and endpoint of CNI workload changes',
    sql: `
      ALTER TABLE intents ADD COLUMN container_id TEXT NOT NULL DEFAULT '';
      ALTER TABLE intents ADD COLUMN endpoint TEXT NOT NULL DEFAULT '';
    `,
  },
];

/**
 * Opens (creating if needed) `<dataDir>/ipam.db`: WAL with synchronous=FULL, so an
 * acknowledged assignment survives a crash. Unlike the store, several ipam processes may
 * share the file: every change is an IMMEDIATE transaction, so SQLite serialises them and
 * two processes never hand out one address twice; a writer waits up to `busyTimeoutMs`.
 */
export function openDatabase(dataDir: string, logger: Logger, busyTimeoutMs = 10_000): Db {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'ipam.db');
  const db = new Database(file, { timeout: busyTimeoutMs });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new Error(`${file} has schema version ${current}, newer than this tabby-ipam knows (${MIGRATIONS.length}); run a newer release`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      const step = MIGRATIONS[v];
      db.exec(step.sql);
      db.pragma(`user_version = ${v + 1}`);
      logger.info({ version: v + 1, migration: step.name }, 'schema migrated');
    }
  }).immediate();
  return db;
}

/** Number of known schema migrations. */
export const SCHEMA_VERSION = MIGRATIONS.length;
