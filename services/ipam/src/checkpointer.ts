import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '@tabby/runtime';
import type { Db } from './database.js';

/** How often the worker checkpoints (ms), and the WAL size (pages) at which the main connection still does it itself. */
const CHECKPOINT_EVERY_MS = 50;
const MAIN_AUTOCHECKPOINT_PAGES = 16_384;

/**
 * Checkpoints ipam.db's WAL from a worker thread with its own connection, PASSIVE (it never
 * blocks a writer), every 50 ms. Left to the connection that commits, SQLite checkpoints inside
 * every COMMIT that takes the WAL past 1,000 pages: copying them to the database and two fsyncs,
 * on the event loop, stalling every call. The main connection keeps an automatic checkpoint at
 * 16,384 pages (64 MiB) as a backstop should the worker fall behind or fail; after the worker's
 * checkpoints it has little left to copy.
 */
export class Checkpointer {
  private exited = false;

  private constructor(
    private readonly worker: Worker,
    private readonly db: Db,
  ) {
    worker.once('exit', () => (this.exited = true));
  }

  /** Starts the worker; undefined (SQLite's own checkpoints, as before) when it cannot run. */
  static start(db: Db, logger: Logger): Checkpointer | undefined {
    const script = fileURLToPath(new URL('./checkpoint-worker.js', import.meta.url));
    // Run from source (tests), there is no compiled worker: SQLite checkpoints as it would.
    if (!existsSync(script)) return undefined;
    const worker = new Worker(script, { workerData: { file: db.name, everyMs: CHECKPOINT_EVERY_MS } });
    worker.on('error', (err) => {
      logger.warn({ err }, 'checkpoint worker failed; SQLite checkpoints on the main connection again');
      db.pragma('wal_autocheckpoint = 1000');
    });
    worker.unref();
    db.pragma(`wal_autocheckpoint = ${MAIN_AUTOCHECKPOINT_PAGES}`);
    return new Checkpointer(worker, db);
  }

  /** Stops the worker (its connection closed), and hands checkpoints back to the main connection. */
  async stop(): Promise<void> {
    if (!this.exited) {
      const exit = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
      this.worker.postMessage('stop');
      await exit;
    }
    if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
  }
}
