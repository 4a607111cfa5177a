/** Preview: what applying and deleting resources would do, without doing it. */
import type { KindName } from '@tabby/api';
import type { Resource } from '@tabby/proto';
import { analyze, currentWarnings, type Warning } from './analyze.js';
import type { TopologyCompiler } from './compiler.js';
import { diffConfigs, type NodeConfigDiff } from './diff.js';

export interface PreviewChanges {
  /** Resources to create or replace (already validated and defaulted). */
  readonly apply: readonly Resource[];
  readonly delete: readonly { readonly kind: KindName; readonly name: string }[];
}

export interface PreviewResult {
  readonly nodes: readonly NodeConfigDiff[];
  /** Warnings the change introduces (worded as what would happen). */
  readonly warnings: readonly Warning[];
  /** Warnings of the current state that the change resolves. */
  readonly resolved: readonly Warning[];
}

/**
 * Compiles the current inputs with the changes applied and compares: the sessions that
 * would appear, go or change on every node, and the safety warnings that would appear or go
 * away. The changes are compiled incrementally on a {@link TopologyCompiler.clone} (what a
 * full compile would give: the incremental tests hold it to that), so only the nodes they
 * affect are recompiled and compared; the current state's warnings are computed once per
 * state ({@link currentWarnings}).
 */
export function preview(current: TopologyCompiler, changes: PreviewChanges): PreviewResult {
  const next = current.clone();
  for (const d of changes.delete) next.delete(d.kind, d.name);
  for (const r of changes.apply) next.apply(r);
  next.commit();
  // One analysis per state: warning ids do not depend on the tense.
  const before = currentWarnings(current);
  const after = analyze(next, 'preview');
  const afterIds = new Set(after.map((w) => w.id));
  const beforeIds = new Set(before.map((w) => w.id));
  return {
    nodes: diffConfigs(current.allConfigs(), next.allConfigs()),
    warnings: after.filter((w) => !beforeIds.has(w.id)),
    resolved: before.filter((w) => !afterIds.has(w.id)),
  };
}
