/**
 * Syntax tree of a parsed selector. Every node is plain, immutable data; the
 * `kind` field discriminates the union. Trees produced by the parser are
 * normalised: `!!x` is already cancelled to `x`, single-operand `&&`/`||`
 * groups and redundant parentheses are dropped, and set values are sorted
 * (by Unicode code point, i.e. UTF-8 byte order as in Calico) and de-duplicated.
 */

/** Operators that compare a label's value with one string literal. */
export type ValueOperator = '==' | '!=' | 'contains' | 'starts with' | 'ends with';

/** Operators that test a label's value against a set literal. */
export type SetOperator = 'in' | 'not in';

/** `all()`, and also what the empty selector parses to: matches every label map. */
export interface AllNode {
  readonly kind: 'all';
}

/** `global()`: matches every label map (Calico uses it in namespace selectors). */
export interface GlobalNode {
  readonly kind: 'global';
}

/** `has(label)`: true when the label is present, whatever its value. */
export interface HasNode {
  readonly kind: 'has';
  readonly label: string;
}

/** `label <operator> "value"` for `==`, `!=`, `contains`, `starts with`, `ends with`. */
export interface ValueNode {
  readonly kind: 'value';
  readonly operator: ValueOperator;
  readonly label: string;
  readonly value: string;
}

/** `label in {…}` / `label not in {…}`; `values` is sorted and free of duplicates. */
export interface SetNode {
  readonly kind: 'set';
  readonly operator: SetOperator;
  readonly label: string;
  readonly values: readonly string[];
}

/** `!operand`. */
export interface NotNode {
  readonly kind: 'not';
  readonly operand: SelectorNode;
}

/** `a && b && …` with at least two operands. */
export interface AndNode {
  readonly kind: 'and';
  readonly operands: readonly SelectorNode[];
}

/** `a || b || …` with at least two operands. */
export interface OrNode {
  readonly kind: 'or';
  readonly operands: readonly SelectorNode[];
}

/** Any node of a selector syntax tree. */
export type SelectorNode =
  | AllNode
  | GlobalNode
  | HasNode
  | ValueNode
  | SetNode
  | NotNode
  | AndNode
  | OrNode;
