import type { SelectorNode } from './ast.js';
import { compileNode } from './evaluate.js';
import type { Labels } from './labels.js';
import { labelLookup } from './labels.js';
import { printNode } from './print.js';

/**
 * A parsed selector. Immutable; safe to share and to call concurrently.
 * Two selectors are equivalent when their `toString()` results are equal.
 */
export interface Selector {
  /** The text that was parsed, unchanged. */
  readonly source: string;
  /** Normalised syntax tree; `{ kind: 'all' }` for an empty selector. */
  readonly root: SelectorNode;
  /**
   * True when `labels` satisfy the selector, following Calico's evaluation
   * table: `!=` and `not in` hold for an absent label, every other
   * comparison and `has` fail for it; `all()` and `global()` always hold.
   * May be passed around unbound.
   */
  readonly matches: (labels: Labels) => boolean;
  /**
   * Calico's canonical text, e.g. `(a == "b" && c in {"x", "y"})`; `all()`
   * for the empty selector. Re-parsing it gives an equivalent selector.
   */
  toString(): string;
}

/** Wraps a tree produced by the parser into a {@link Selector}. */
export function createSelector(root: SelectorNode, source: string): Selector {
  const predicate = compileNode(root);
  let canonical: string | undefined;
  return Object.freeze({
    source,
    root,
    matches: (labels: Labels) => predicate(labelLookup(labels)),
    toString: () => (canonical ??= printNode(root)),
  });
}
