/**
 * The analysis worker (a worker_threads Worker the service owns, see analysis.ts): a mirror
 * of the service's compiler, fed the same inputs in the same order, that runs Check and
 * Preview so that the service's event loop keeps answering while they run.
 */
import { existsSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { AnalysisWorkerData, FromWorker, ToWorker } from './analysis-protocol.js';
import { currentWarnings } from './compile/analyze.js';
import { TopologyCompiler } from './compile/compiler.js';
import { warmSessionRows } from './compile/graph.js';
import { preview } from './compile/preview.js';
import { toNodeDiff, toWarning } from './convert.js';
import { applyInput } from './inputs.js';

const port = parentPort;
if (!port) throw new Error('analysis-worker.js runs as a worker thread of tabby-topology');
const data = workerData as AnalysisWorkerData;
const compiler = new TopologyCompiler();
for (const i of data.inputs) applyInput(compiler, i);
const post = (m: FromWorker): void => port.postMessage(m);

/** Test hook: waits while the hold file exists (a sleep, not a spin: Atomics.wait on a private cell). */
function hold(): void {
  const file = data.hooks.holdFile;
  if (!file) return;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (existsSync(file)) Atomics.wait(cell, 0, 0, 20);
}

let commitScheduled = false;
/** The service is in sync: before, the batches of the initial listing are not compiled one by one. */
let inSync = data.synced;

/**
 * Compiles the inputs once a batch has arrived (one commit per turn, as the service does)
 * and reads the recompiled nodes' sessions into rows, so that the next call finds the mirror
 * compiled and its sessions read instead of doing both first.
 */
function scheduleCommit(): void {
  if (commitScheduled || !inSync) return;
  commitScheduled = true;
  setImmediate(() => {
    commitScheduled = false;
    if (compiler.commit().recompiled > 0) warmSessionRows(compiler.allConfigs());
  });
}

function handle(m: ToWorker): void {
  if (m.type === 'inputs') {
    for (const i of m.inputs) applyInput(compiler, i);
    scheduleCommit();
    return;
  }
  if (m.type === 'synced') {
    inSync = true;
    scheduleCommit();
    return;
  }
  hold();
  const crashOn = data.hooks.crashOn;
  // Outside the try below on purpose: an uncaught exception ends the worker, as a bug would.
  if (m.type === 'preview' && crashOn && m.apply.some((r) => r.kind?.value.metadata?.name === crashOn)) throw new Error(`test hook: the analysis worker dies on a Preview of ${crashOn}`);
  try {
    compiler.commit();
    if (m.type === 'check') {
      const configs = compiler.allConfigs();
      let sessions = 0;
      for (const c of configs.values()) sessions += c.peers.length;
      post({ type: 'check', id: m.id, result: { warnings: currentWarnings(compiler).map(toWarning), nodes: configs.size, sessions } });
      return;
    }
    const p = preview(compiler, { apply: m.apply, delete: m.delete });
    post({ type: 'preview', id: m.id, result: { nodes: p.nodes.map(toNodeDiff), warnings: p.warnings.map(toWarning), resolved: p.resolved.map(toWarning) } });
  } catch (err) {
    post({ type: 'failed', id: m.id, message: err instanceof Error ? err.message : String(err) });
  }
}

port.on('message', handle);
scheduleCommit();
post({ type: 'ready' });
