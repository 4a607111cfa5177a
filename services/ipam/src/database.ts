import { close, closeSync, fdatasync, fsync, mkdirSync, open } from 'node:fs';
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
 * - blocks_with_room / blocks_with_room_by_pool: partial indexes of the blocks with a free
 *   address, so finding a node's block with room (or one to borrow from) costs the same with
 *   1M addresses live as with 1k (without them: every block of the node, or of the pool).
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
  {
    name: 'blocks: partial indexes of the blocks with room, by node and by pool',
    sql: `
      CREATE INDEX blocks_with_room ON blocks (node, family, cidr) WHERE in_use < size;
      CREATE INDEX blocks_with_room_by_pool ON blocks (pool_cidr, cidr) WHERE in_use < size;
    `,
  },
];

/**
 * Opens (creating if needed) `<dataDir>/ipam.db` in WAL mode. Unlike the store, several ipam
 * processes may share the file: every change is an IMMEDIATE transaction, so SQLite
 * serialises them and two processes never hand out one address twice; a writer waits up to
 * `busyTimeoutMs`.
 *
 * Durability: synchronous=NORMAL, so COMMIT itself does not fsync (which would stall the
 * event loop, and every call waiting on it, for the whole fsync); instead whoever commits
 * calls {@link walSync} and acknowledges only once that fdatasync of the WAL, run on the
 * libuv thread pool, has finished. That is what synchronous=FULL does inside COMMIT, moved
 * off the event loop: an acknowledged change survives kill -9 and power loss. (SQLite still
 * syncs the WAL before and the database after each checkpoint.) A commit is visible to
 * readers a moment before it is durable; it is acknowledged only after.
 */
export function openDatabase(dataDir: string, logger: Logger, busyTimeoutMs = 10_000): Db {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'ipam.db');
  const db = new Database(file, { timeout: busyTimeoutMs });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
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

/**
 * fdatasync of a database's WAL file on the libuv thread pool, coalesced: a {@link WalSync.sync}
 * resolves once a sync that started after the call has finished, so it covers every commit
 * made before the call; callers arriving while one runs share the next. A failed sync fails
 * this one and every later one (after a failed fsync the kernel may have dropped the dirty
 * pages, so nothing written since can be vouched for): the process must be restarted.
 */
export class WalSync {
  /** The WAL, opened at the first sync (it exists while the connection is open); its directory entry is synced then, as SQLite does for a file it creates. */
  private fd: number | undefined;
  private running = false;
  private waiting: { resolve: () => void; reject: (err: Error) => void }[] = [];
  private failed: Error | undefined;
  private idle: (() => void)[] = [];

  constructor(private readonly walFile: string) {}

  /** Resolves once everything committed before the call is on disk. */
  sync(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.kick();
    });
  }

  /** Waits for the syncs under way and closes the file (a later sync opens it again). */
  async close(): Promise<void> {
    if (this.running || this.waiting.length > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private kick(): void {
    if (this.running) return;
    if (this.waiting.length === 0) {
      for (const f of this.idle.splice(0)) f();
      return;
    }
    const batch = this.waiting;
    this.waiting = [];
    this.running = true;
    const settle = (err: Error | null): void => {
      this.running = false;
      if (err && !this.failed) this.failed = new Error(`cannot sync ${this.walFile} (${err.message}): changes since the last sync may not be on disk; restart tabby-ipam`);
      for (const w of batch) {
        if (this.failed) w.reject(this.failed);
        else w.resolve();
      }
      this.kick();
    };
    if (this.fd !== undefined) {
      fdatasync(this.fd, settle);
      return;
    }
    open(this.walFile, 'r', (err, fd) => {
      if (err) return settle(err);
      this.fd = fd;
      fdatasync(fd, (e) => {
        if (e) return settle(e);
        open(path.dirname(this.walFile), 'r', (de, dir) => {
          if (de) return settle(de);
          fsync(dir, (se) => close(dir, () => settle(se)));
        });
      });
    });
  }
}

const walSyncs = new WeakMap<Db, WalSync>();

/** The {@link WalSync} of a database opened by {@link openDatabase} (one per connection). */
export function walSync(db: Db): WalSync {
  let w = walSyncs.get(db);
  if (!w) {
    w = new WalSync(`${db.name}-wal`);
    walSyncs.set(db, w);
  }
  return w;
}
