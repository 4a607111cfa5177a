import { closeSync, fdatasyncSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '@tabby/runtime';

/** The store's SQLite connection. */
export type Db = Database.Database;

/**
 * Schema migrations, applied in order inside one transaction each; `PRAGMA user_version`
 * records how many have run. Never edit a released step: append a new one.
 */
const MIGRATIONS: readonly { name: string; sql: string }[] = [
  {
    name: 'initial schema: resources, events, meta',
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO meta (key, value) VALUES ('revision', 0), ('compacted', 0);
      CREATE TABLE resources (
        kind      TEXT    NOT NULL,
        namespace TEXT    NOT NULL,
        name      TEXT    NOT NULL,
        revision  INTEGER NOT NULL,
        data      BLOB    NOT NULL,
        PRIMARY KEY (kind, namespace, name)
      ) WITHOUT ROWID;
      CREATE TABLE events (
        revision  INTEGER PRIMARY KEY,
        type      INTEGER NOT NULL,
        kind      TEXT    NOT NULL,
        namespace TEXT    NOT NULL,
        name      TEXT    NOT NULL,
        data      BLOB    NOT NULL,
        previous  BLOB
      );
      CREATE INDEX events_by_kind ON events (kind, revision);
    `,
  },
  {
    name: 'cluster identity',
    sql: `
      CREATE TABLE info (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO info (key, value) VALUES ('cluster_guid', lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))));
    `,
  },
];

/** Thrown when the data directory is held by another store process. */
export class DataDirInUseError extends Error {
  override readonly name = 'DataDirInUseError';
  readonly reason = 'unavailable' as const;
}

/**
 * Opens (creating if needed) `<dataDir>/store.db`: WAL with synchronous=NORMAL (the
 * ResourceStore fdatasyncs the WAL before it answers a write, so an acknowledged commit
 * survives a crash or power loss), an exclusive lock so exactly one store process
 * owns the file, and every pending migration applied.
 */
export function openDatabase(dataDir: string, logger: Logger): Db {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'store.db');
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma('journal_mode = WAL');
    // The WAL is fsynced by ResourceStore before any write is answered (off the event loop);
    // SQLite itself syncs at checkpoints.
    db.pragma('synchronous = NORMAL');
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('foreign_keys = ON');
    // Take the exclusive lock now rather than on the first write.
    db.exec('BEGIN IMMEDIATE; COMMIT;');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY')
      throw new DataDirInUseError(`data directory ${dataDir} is in use by another tabby-store (${file} is locked)`, { cause: err });
    throw err;
  }
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    db.close();
    throw new Error(`${file} has schema version ${current}, newer than this tabby-store knows (${MIGRATIONS.length}); run a newer release`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    const step = MIGRATIONS[v];
    db.transaction(() => {
      db.exec(step.sql);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
    logger.info({ version: v + 1, migration: step.name }, 'schema migrated');
  }
  return db;
}

/**
 * Makes every commit so far durable: fdatasync of the WAL (synchronous=NORMAL leaves that to
 * the caller). For writes outside the ResourceStore's queue, which syncs its own.
 */
export function syncWal(db: Db): void {
  const fd = openSync(`${db.name}-wal`, 'r');
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Number of known schema migrations (the version a fresh database reaches). */
export const SCHEMA_VERSION = MIGRATIONS.length;
