import type { SelectorNode } from './ast.js';
import type { LabelLookup } from './labels.js';
import { SET_OPERATORS, VALUE_OPERATORS } from './operators.js';

/** A compiled selector: true when the labels read through `lookup` match. */
export type Predicate = (lookup: LabelLookup) => boolean;

const always: Predicate = () => true;

/**
 * Compiles a syntax tree into a predicate once, so matching many label maps
 * does not re-walk operator tables or rebuild sets. `&&`/`||` short-circuit.
 */
export function compileNode(node: SelectorNode): Predicate {
  switch (node.kind) {
    case 'all':
    case 'global':
      return always;
    case 'has': {
      const { label } = node;
      return (lookup) => lookup(label) !== undefined;
    }
    case 'value': {
      const { label, value } = node;
      const rule = VALUE_OPERATORS[node.operator];
      return (lookup) => {
        const actual = lookup(label);
        return actual === undefined ? rule.whenAbsent : rule.test(actual, value);
      };
    }
    case 'set': {
      const { label } = node;
      const values: ReadonlySet<string> = new Set(node.values);
      const rule = SET_OPERATORS[node.operator];
      return (lookup) => {
        const actual = lookup(label);
        return actual === undefined ? rule.whenAbsent : rule.test(actual, values);
      };
    }
    case 'not': {
      const operand = compileNode(node.operand);
      return (lookup) => !operand(lookup);
    }
    case 'and': {
      const operands = node.operands.map(compileNode);
      return (lookup) => operands.every((operand) => operand(lookup));
    }
    case 'or': {
      const operands = node.operands.map(compileNode);
      return (lookup) => operands.some((operand) => operand(lookup));
    }
  }
}
