import type { SetOperator, ValueOperator } from './ast.js';

/** How one operator behaves: its result for an absent label, and its test on a present value. */
export interface OperatorRule<Operand> {
  /** Result when the label is not present at all (Calico's evaluation table). */
  readonly whenAbsent: boolean;
  /** Result when the label is present with value `actual`. */
  readonly test: (actual: string, operand: Operand) => boolean;
}

/**
 * Semantics of the value operators (docs/calico-compat.md §3.3). `!=` is true for an
 * absent label; the string tests are case-sensitive.
 */
export const VALUE_OPERATORS: Readonly<Record<ValueOperator, OperatorRule<string>>> = {
  '==': { whenAbsent: false, test: (actual, value) => actual === value },
  '!=': { whenAbsent: true, test: (actual, value) => actual !== value },
  contains: { whenAbsent: false, test: (actual, value) => actual.includes(value) },
  'starts with': { whenAbsent: false, test: (actual, value) => actual.startsWith(value) },
  'ends with': { whenAbsent: false, test: (actual, value) => actual.endsWith(value) },
};

/** Semantics of the set operators (docs/calico-compat.md §3.3). `not in` is true for an absent label. */
export const SET_OPERATORS: Readonly<Record<SetOperator, OperatorRule<ReadonlySet<string>>>> = {
  in: { whenAbsent: false, test: (actual, values) => values.has(actual) },
  'not in': { whenAbsent: true, test: (actual, values) => !values.has(actual) },
};
