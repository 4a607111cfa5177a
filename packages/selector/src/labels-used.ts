import type { SelectorNode } from './ast.js';
import type { Selector } from './selector.js';

function collect(node: SelectorNode, into: Set<string>): void {
  switch (node.kind) {
    case 'all':
    case 'global':
      return;
    case 'has':
    case 'value':
    case 'set':
      into.add(node.label);
      return;
    case 'not':
      collect(node.operand, into);
      return;
    case 'and':
    case 'or':
      for (const operand of node.operands) {
        collect(operand, into);
      }
      return;
  }
}

/**
 * The label keys a selector reads, in order of first appearance. A label map
 * that differs from another only in keys outside this set gets the same
 * `matches()` result, so callers re-evaluate only when one of these changes.
 */
export function labelsUsed(selector: Selector): ReadonlySet<string> {
  const used = new Set<string>();
  collect(selector.root, used);
  return used;
}

/**
 * True when the selector matches every label map without reading any label:
 * the empty selector, `all()`, `global()` and combinations of them that come
 * out true (`all() && global()`, `!!all()`). Selectors that read labels are
 * never reported as match-all, even tautologies such as `has(a) || !has(a)`.
 */
export function isMatchAll(selector: Selector): boolean {
  return labelsUsed(selector).size === 0 && selector.matches({});
}
