/** Messages between the service and its analysis worker (analysis-worker.ts). Structured-clonable. */
import type { KindName } from '@tabby/api';
import type { PreviewResponse, Resource, TopologyCheckResponse } from '@tabby/proto';
import type { CompilerInput } from './inputs.js';

/** What the worker starts from: the inputs of the state at that moment, and the test hooks. */
export interface AnalysisWorkerData {
  readonly inputs: readonly CompilerInput[];
  /** The service is in sync with the store (else the worker waits for `synced` to compile eagerly). */
  readonly synced: boolean;
  readonly hooks: AnalysisTestHooks;
}

/**
 * Test-only hooks, from the environment (README "Check and Preview in a worker"): with
 * `holdFile` set, the worker waits before each Check or Preview for as long as that file
 * exists; with `crashOn` set, a Preview applying a resource of that name makes the worker die
 * of an uncaught exception.
 */
export interface AnalysisTestHooks {
  readonly holdFile?: string;
  readonly crashOn?: string;
}

export type ToWorker =
  | { readonly type: 'inputs'; readonly inputs: readonly CompilerInput[] }
  | { readonly type: 'synced' }
  | { readonly type: 'check'; readonly id: number }
  | { readonly type: 'preview'; readonly id: number; readonly apply: readonly Resource[]; readonly delete: readonly { readonly kind: KindName; readonly name: string }[] };

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'check'; readonly id: number; readonly result: TopologyCheckResponse }
  | { readonly type: 'preview'; readonly id: number; readonly result: Omit<PreviewResponse, 'ignored'> }
  | { readonly type: 'failed'; readonly id: number; readonly message: string };
