/**
 * Test support: a seeded PRNG, a generator of random selector trees rendered
 * as varied but valid text, and an evaluator written independently of the
 * package (straight from the reference table) to check it against.
 */
import type { SelectorNode, SetOperator, ValueOperator } from '../src/index.js';

/** mulberry32: small, deterministic, good enough to pick test cases. */
export function makeRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (below) => Math.floor(next() * below),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

export interface Random {
  next(): number;
  int(below: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
}

export const LABELS = [
  'a', 'b', 'app', 'k8s.io/name', 'x-y_z.w/v', 'A',
  'in', 'not', 'contains', 'starts', 'ends', 'with', 'has', 'all', 'global',
  'constructor', '__proto__', 'toString',
] as const;

export const VALUES = ['', 'a', 'ab', 'b', 'B', 'abc', ' a b ', "it's", 'say "hi"', 'x\ty', 'é', '😀', 'ﬀ', 'in', '&&'] as const;

const VALUE_OPERATORS: readonly ValueOperator[] = ['==', '!=', 'contains', 'starts with', 'ends with'];
const SET_OPERATORS: readonly SetOperator[] = ['in', 'not in'];

/** A random tree; sets may hold duplicates and unsorted values, `!` may repeat. */
export function randomTree(random: Random, depth: number): SelectorNode {
  const leafOnly = depth <= 0;
  const roll = random.int(leafOnly ? 5 : 9);
  switch (roll) {
    case 0:
      return random.chance(0.5) ? { kind: 'all' } : { kind: 'global' };
    case 1:
      return { kind: 'has', label: random.pick(LABELS) };
    case 2:
    case 3:
      return { kind: 'value', operator: random.pick(VALUE_OPERATORS), label: random.pick(LABELS), value: random.pick(VALUES) };
    case 4: {
      const values = Array.from({ length: random.int(4) }, () => random.pick(VALUES));
      return { kind: 'set', operator: random.pick(SET_OPERATORS), label: random.pick(LABELS), values };
    }
    case 5:
    case 6:
      return { kind: 'not', operand: randomTree(random, depth - 1) };
    default: {
      const operands = Array.from({ length: 2 + random.int(3) }, () => randomTree(random, depth - 1));
      return { kind: roll === 7 ? 'and' : 'or', operands };
    }
  }
}

/** Blanks: zero or more spaces and tabs. */
function blanks(random: Random, atLeastOne = false): string {
  const count = random.int(3) + (atLeastOne ? 1 : 0);
  return Array.from({ length: count }, () => random.pick([' ', ' ', '\t'])).join('');
}

function quote(random: Random, value: string): string {
  const single = value.includes('"') || (!value.includes("'") && random.chance(0.5));
  return single ? `'${value}'` : `"${value}"`;
}

/** Operator spelled with random blanks between its words (`startswith`, `not \t in`). */
function spell(random: Random, operator: ValueOperator | SetOperator): string {
  return operator.split(' ').join(blanks(random));
}

const PRECEDENCE = { or: 0, and: 1, term: 2 } as const;

/**
 * Renders a tree as text the parser must read back as the same tree: groups
 * below the required precedence get parentheses, others sometimes do.
 */
export function renderTree(random: Random, node: SelectorNode, required = 0): string {
  const own = node.kind === 'or' ? PRECEDENCE.or : node.kind === 'and' ? PRECEDENCE.and : PRECEDENCE.term;
  const body = renderBody(random, node);
  if (own < required || random.chance(0.1)) {
    return `(${blanks(random)}${body}${blanks(random)})`;
  }
  return body;
}

function renderBody(random: Random, node: SelectorNode): string {
  const b = (): string => blanks(random);
  switch (node.kind) {
    case 'all':
      return `all(${b()})`;
    case 'global':
      return `global(${b()})`;
    case 'has':
      return `has(${b()}${node.label}${b()})`;
    case 'value':
      return `${node.label}${blanks(random, node.operator[0] !== '=' && node.operator[0] !== '!')}${spell(random, node.operator)}${b()}${quote(random, node.value)}`;
    case 'set': {
      const items = node.values.map((value) => `${b()}${quote(random, value)}${b()}`);
      const trailing = items.length > 0 && random.chance(0.3) ? ',' : '';
      return `${node.label}${blanks(random, true)}${spell(random, node.operator)}${b()}{${items.join(',')}${trailing}${b()}}`;
    }
    case 'not':
      return `!${b()}${renderTree(random, node.operand, PRECEDENCE.term)}`;
    case 'and':
      return node.operands.map((operand) => renderTree(random, operand, PRECEDENCE.term)).join(`${b()}&&${b()}`);
    case 'or':
      return node.operands.map((operand) => renderTree(random, operand, PRECEDENCE.and)).join(`${b()}||${b()}`);
  }
}

/**
 * The tree the parser should produce: `!!x` cancelled, `all()`/`global()`
 * kept apart, set values sorted by code point and de-duplicated.
 */
export function normaliseTree(node: SelectorNode): SelectorNode {
  switch (node.kind) {
    case 'set': {
      const sorted = [...new Set(node.values)].sort((x, y) => {
        const a = [...x].map((c) => c.codePointAt(0) ?? 0);
        const b = [...y].map((c) => c.codePointAt(0) ?? 0);
        for (let i = 0; i < Math.min(a.length, b.length); i += 1) {
          if (a[i] !== b[i]) {
            return a[i] - b[i];
          }
        }
        return a.length - b.length;
      });
      return { ...node, values: sorted };
    }
    case 'not': {
      const operand = normaliseTree(node.operand);
      return operand.kind === 'not' ? operand.operand : { kind: 'not', operand };
    }
    case 'and':
    case 'or':
      return { kind: node.kind, operands: node.operands.map(normaliseTree) };
    default:
      return node;
  }
}

/** docs/calico-compat.md §3.3 evaluation, written without the package's code. */
export function referenceEvaluate(node: SelectorNode, labels: ReadonlyMap<string, string>): boolean {
  switch (node.kind) {
    case 'all':
    case 'global':
      return true;
    case 'has':
      return labels.has(node.label);
    case 'value': {
      const v = labels.get(node.label);
      if (v === undefined) {
        return node.operator === '!=';
      }
      switch (node.operator) {
        case '==':
          return v === node.value;
        case '!=':
          return v !== node.value;
        case 'contains':
          return v.includes(node.value);
        case 'starts with':
          return v.startsWith(node.value);
        case 'ends with':
          return v.endsWith(node.value);
      }
      break;
    }
    case 'set': {
      const v = labels.get(node.label);
      if (v === undefined) {
        return node.operator === 'not in';
      }
      return node.values.includes(v) === (node.operator === 'in');
    }
    case 'not':
      return !referenceEvaluate(node.operand, labels);
    case 'and':
      return node.operands.every((operand) => referenceEvaluate(operand, labels));
    case 'or':
      return node.operands.some((operand) => referenceEvaluate(operand, labels));
  }
}

/** A random label map over the same label and value pools. */
export function randomLabels(random: Random): Map<string, string> {
  const labels = new Map<string, string>();
  for (const label of LABELS) {
    if (random.chance(0.3)) {
      labels.set(label, random.pick(VALUES));
    }
  }
  return labels;
}
