/**
 * Check and Preview off the event loop. They cost a walk over every session (a million in a
 * 1,000-node mesh): on the service's event loop they would stall Health, GetNodeConfig and
 * the watch streams for as long, so they run in a worker thread.
 *
 * The worker keeps a mirror of the compiler, fed the same inputs in the same order
 * (TopologyState.onInputs), rather than receiving a snapshot with each call: a snapshot
 * would mean a full compile per call (about as long as the analysis itself on a large
 * mesh), while the mirror compiles incrementally, as the service does, and keeps its
 * per-state caches (the current warnings, the session rows) warm across calls. It costs a
 * second copy of the compiled state in memory and a second (incremental) compile of each
 * change, on the worker's thread. The state stays in the main thread; the worker only answers.
 *
 * A worker that dies (an uncaught exception, out of memory) fails the calls it was running
 * with UNAVAILABLE and is replaced by a new one started from a snapshot of the state; the
 * next call works. stop() terminates it.
 */
import { Worker } from 'node:worker_threads';
import type { KindName } from '@tabby/api';
import type { PreviewResponse, Resource, TopologyCheckResponse } from '@tabby/proto';
import { ServiceError, type Logger } from '@tabby/runtime';
import type { AnalysisTestHooks, AnalysisWorkerData, FromWorker, ToWorker } from './analysis-protocol.js';
import type { CompilerInput } from './inputs.js';

export interface AnalysisWorkerOptions {
  readonly logger: Logger;
  /** The inputs of the current state, for a new worker. */
  readonly snapshot: () => CompilerInput[];
  readonly hooks?: AnalysisTestHooks;
}

interface Pending {
  readonly resolve: (m: FromWorker) => void;
  readonly reject: (err: Error) => void;
}

/** The test hooks named by the environment (TABBY_TOPOLOGY_TEST_HOLD_FILE, TABBY_TOPOLOGY_TEST_CRASH_ON). */
export function analysisHooksFromEnv(env: NodeJS.ProcessEnv): AnalysisTestHooks {
  return { holdFile: env.TABBY_TOPOLOGY_TEST_HOLD_FILE || undefined, crashOn: env.TABBY_TOPOLOGY_TEST_CRASH_ON || undefined };
}

/** The service's analysis worker: Check and Preview as promises. */
export class AnalysisWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stopped = false;
  /** The current worker has started (said `ready`). */
  private ready = false;
  /** Workers started: a restart is logged with it. */
  private starts = 0;
  private inSync = false;

  constructor(private readonly opts: AnalysisWorkerOptions) {}

  /** Starts the worker now (else it starts with the first call). */
  start(): void {
    this.ensure();
  }

  /** Forwards inputs the service's compiler took (in order, before any later call). */
  onInputs(inputs: readonly CompilerInput[]): void {
    // Without a worker there is nothing to keep up to date: the next one starts from a snapshot.
    this.worker?.postMessage({ type: 'inputs', inputs } satisfies ToWorker);
  }

  /** The service is in sync with the store: from now on the worker compiles each change as it comes. */
  synced(): void {
    this.inSync = true;
    this.worker?.postMessage({ type: 'synced' } satisfies ToWorker);
  }

  async check(): Promise<TopologyCheckResponse> {
    const m = await this.call((id) => ({ type: 'check', id }));
    if (m.type !== 'check') throw new ServiceError('internal', `analysis worker answered a Check with ${m.type}`);
    return m.result;
  }

  async preview(apply: readonly Resource[], del: readonly { kind: KindName; name: string }[]): Promise<Omit<PreviewResponse, 'ignored'>> {
    const m = await this.call((id) => ({ type: 'preview', id, apply, delete: del }));
    if (m.type !== 'preview') throw new ServiceError('internal', `analysis worker answered a Preview with ${m.type}`);
    return m.result;
  }

  /** Terminates the worker; calls still running fail with UNAVAILABLE. */
  async stop(): Promise<void> {
    this.stopped = true;
    const w = this.worker;
    this.worker = undefined;
    this.failAll('tabby-topology is shutting down');
    if (w) await w.terminate();
  }

  private call(message: (id: number) => ToWorker): Promise<FromWorker> {
    if (this.stopped) return Promise.reject(new ServiceError('unavailable', 'tabby-topology is shutting down'));
    const w = this.ensure();
    const id = this.nextId++;
    return new Promise<FromWorker>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage(message(id));
    });
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const data: AnalysisWorkerData = { inputs: this.opts.snapshot(), synced: this.inSync, hooks: this.opts.hooks ?? {} };
    const w = new Worker(new URL('./analysis-worker.js', import.meta.url), { workerData: data, name: 'tabby-topology-analysis' });
    this.worker = w;
    this.ready = false;
    this.starts++;
    if (this.starts > 1) this.opts.logger.info({ inputs: data.inputs.length }, 'analysis worker restarted');
    w.on('message', (m: FromWorker) => this.onMessage(w, m));
    w.on('error', (err) => this.onDeath(w, err.message));
    w.on('exit', (code) => this.onDeath(w, `exit code ${code}`));
    return w;
  }

  private onMessage(w: Worker, m: FromWorker): void {
    if (m.type === 'ready') {
      if (this.worker === w) this.ready = true;
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.type === 'failed') p.reject(new ServiceError('internal', `the analysis failed: ${m.message}`));
    else p.resolve(m);
  }

  private onDeath(w: Worker, why: string): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    if (this.stopped) return;
    const wasReady = this.ready;
    this.opts.logger.error({ why, calls: this.pending.size }, 'analysis worker died; failing its calls and starting a new one');
    this.failAll(`the analysis worker of tabby-topology died (${why}) before answering; retry`);
    // Started again at once, from a snapshot. One that dies while starting is not restarted
    // in a loop: the next call starts another.
    if (wasReady) this.ensure();
  }

  private failAll(message: string): void {
    for (const p of this.pending.values()) p.reject(new ServiceError('unavailable', message));
    this.pending.clear();
  }
}
