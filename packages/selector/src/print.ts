import type { SelectorNode } from './ast.js';

/**
 * Quotes a string literal the way Calico prints it: double quotes unless the
 * value contains a double quote, then single quotes. (A parsed value never
 * holds both kinds, since the language has no escapes.)
 */
export function quoteValue(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}

/**
 * Prints a node in Calico's canonical form: `&&`/`||` groups wrapped in
 * parentheses, single spaces around operators, `, ` between set values,
 * `!` directly before its operand. The output re-parses to an equal tree.
 */
export function printNode(node: SelectorNode): string {
  switch (node.kind) {
    case 'all':
      return 'all()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${node.label})`;
    case 'value':
      return `${node.label} ${node.operator} ${quoteValue(node.value)}`;
    case 'set':
      return `${node.label} ${node.operator} {${node.values.map(quoteValue).join(', ')}}`;
    case 'not':
      return `!${printNode(node.operand)}`;
    case 'and':
      return `(${node.operands.map(printNode).join(' && ')})`;
    case 'or':
      return `(${node.operands.map(printNode).join(' || ')})`;
  }
}
