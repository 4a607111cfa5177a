import { metaOf } from '@tabby/api';
import type { BlockChange, FollowEvent } from '@tabby/client';
import { NodeConfigChanged, type NodeConfig } from '@tabby/proto';
import type { EventBus, Logger } from '@tabby/runtime';
import { TopologyCompiler } from './compile/compiler.js';
import { toNodeConfig } from './convert.js';
import { applyInput, snapshotInputs, type CompilerInput } from './inputs.js';
import type { TopologyMetrics } from './topology-metrics.js';

/** NATS subject of a node's configuration notifications. */
export function nodeSubject(node: string): string {
  return `tabby.v1.topology.nodes.${node}`;
}

export interface TopologyStateOptions {
  readonly logger: Logger;
  readonly metrics?: TopologyMetrics;
  readonly bus?: EventBus;
  /** The store revision plus the IPAM block revision the inputs reflect (generation floor). */
  readonly revision: () => number;
}

/**
 * The service's derived state: the compiler fed by the followers, each node's generation,
 * and who is watching which node. Changes arriving together are compiled together (one
 * commit per turn of the event loop); only nodes whose configuration changed get a new
 * generation, a watch message and a NATS notification. Nothing is compiled before the
 * first complete list of the store (and IPAM), so no partial view is ever served.
 */
export class TopologyState {
  readonly compiler = new TopologyCompiler();
  private readonly generations = new Map<string, number>();
  private readonly watchers = new Map<string, Set<() => void>>();
  private syncedFlag = false;
  private readonly syncWaiters = new Set<() => void>();
  private scheduled = false;
  private sessions = 0;
  private readonly inputListeners = new Set<(inputs: readonly CompilerInput[]) => void>();

  constructor(private readonly opts: TopologyStateOptions) {}

  get synced(): boolean {
    return this.syncedFlag;
  }

  /** Store events (from the follower) into the compiler. */
  onResources(events: readonly FollowEvent[]): void {
    this.input(
      events.map((e): CompilerInput =>
        e.type === 'deleted' ? { op: 'delete', kind: e.kind, name: e.kind === 'WorkloadEndpoint' ? e.key : metaOf(e.object).name } : { op: 'apply', resource: e.object },
      ),
    );
  }

  /** IPAM block changes into the compiler. */
  onBlocks(changes: readonly BlockChange[]): void {
    this.input(
      changes.map((c): CompilerInput => (c.block ? { op: 'set-block', block: { cidr: c.block.cidr, node: c.block.node, pool: c.block.pool } } : { op: 'delete-block', cidr: c.cidr })),
    );
  }

  /**
   * Calls `listener` with every batch of inputs the compiler takes, after it took them (the
   * analysis worker's mirror follows the state this way); returns the unsubscribe.
   */
  onInputs(listener: (inputs: readonly CompilerInput[]) => void): () => void {
    this.inputListeners.add(listener);
    return () => this.inputListeners.delete(listener);
  }

  /** The inputs that rebuild the current state from nothing. */
  snapshot(): CompilerInput[] {
    return snapshotInputs(this.compiler);
  }

  private input(inputs: readonly CompilerInput[]): void {
    for (const i of inputs) applyInput(this.compiler, i);
    for (const l of this.inputListeners) l(inputs);
    this.schedule();
  }

  /** The inputs are complete: compile everything and start serving. */
  markSynced(): void {
    if (this.syncedFlag) return;
    this.syncedFlag = true;
    this.commit();
    this.opts.metrics?.synced.set(1);
    for (const w of this.syncWaiters) w();
    this.syncWaiters.clear();
  }

  /** Resolves once synced; rejects if `signal` aborts first. */
  whenSynced(signal: AbortSignal): Promise<void> {
    if (this.syncedFlag) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.syncWaiters.delete(done);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      this.syncWaiters.add(done);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The node's configuration message (a node that does not exist has `exists` false). */
  nodeConfig(node: string): NodeConfig {
    return toNodeConfig(node, this.compiler.config(node), this.generations.get(node) ?? this.opts.revision());
  }

  /** Calls `listener` after each change of the node's configuration; returns the unsubscribe. */
  watch(node: string, listener: () => void): () => void {
    let set = this.watchers.get(node);
    if (!set) this.watchers.set(node, (set = new Set()));
    set.add(listener);
    this.opts.metrics?.watchers.inc();
    return () => {
      set.delete(listener);
      if (set.size === 0) this.watchers.delete(node);
      this.opts.metrics?.watchers.dec();
    };
  }

  private schedule(): void {
    if (this.scheduled || !this.syncedFlag) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.commit();
    });
  }

  private commit(): void {
    const started = process.hrtime.bigint();
    const { changed, recompiled } = this.compiler.commit();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const floor = this.opts.revision();
    for (const node of changed) {
      const previous = this.generations.get(node) ?? 0;
      const generation = Math.max(previous + 1, floor);
      this.generations.set(node, generation);
    }
    this.sessions = 0;
    for (const c of this.compiler.allConfigs().values()) this.sessions += c.peers.length;
    const m = this.opts.metrics;
    if (m) {
      m.compileSeconds.observe(seconds);
      m.recompiledNodes.inc(recompiled);
      m.changedNodes.inc(changed.length);
      m.nodes.set(this.compiler.allConfigs().size);
      m.sessions.set(this.sessions);
      m.generation.set(floor);
    }
    if (changed.length > 0 || recompiled > 0)
      this.opts.logger.info(
        { changed: changed.length, recompiled, ms: Math.round(seconds * 1e6) / 1e3, nodes: changed.length <= 10 ? changed : undefined },
        'node configurations compiled',
      );
    for (const node of changed) {
      const generation = this.generations.get(node) ?? 0;
      const exists = this.compiler.config(node) !== undefined;
      this.opts.bus?.publish(nodeSubject(node), NodeConfigChanged.encode({ node, generation, exists }).finish());
      for (const w of this.watchers.get(node) ?? []) w();
    }
  }
}
