import { SelectorParseError } from './parse-error.js';
import type { SelectorParseErrorReason } from './parse-error.js';
import type { Token, TokenKind } from './token.js';

/** Longest label accepted, in characters (Calico `MaxLabelLength`). */
export const MAX_LABEL_LENGTH = 512;

/** Result of {@link tokenizeSelector}: every token ending with `eof`, or the first error. */
export type TokenizeResult =
  | { readonly ok: true; readonly tokens: readonly Token[] }
  | { readonly ok: false; readonly error: SelectorParseError };

/** Tokens spelled by one character. */
const PUNCTUATION: Readonly<Record<string, TokenKind>> = {
  '(': 'lparen',
  ')': 'rparen',
  '{': 'lbrace',
  '}': 'rbrace',
  ',': 'comma',
};

/**
 * Operators recognised only right after a label, tried in this order. Words
 * of a multi-word operator may be separated by zero or more blanks.
 */
const LABEL_OPERATORS: readonly { readonly words: readonly string[]; readonly kind: TokenKind }[] = [
  { words: ['contains'], kind: 'contains' },
  { words: ['starts', 'with'], kind: 'starts-with' },
  { words: ['ends', 'with'], kind: 'ends-with' },
  { words: ['not', 'in'], kind: 'not-in' },
  { words: ['in'], kind: 'in' },
];

/** Functions recognised where a term may start; the `(` must follow the name directly. */
const FUNCTIONS: readonly { readonly opening: string; readonly kind: TokenKind }[] = [
  { opening: 'has(', kind: 'has' },
  { opening: 'all(', kind: 'all' },
  { opening: 'global(', kind: 'global' },
];

const ANY_OPERATOR = 'an operator: ==, !=, contains, starts with, ends with, in or not in';

function isBlank(char: string | undefined): boolean {
  return char === ' ' || char === '\t';
}

function isLabelChar(char: string | undefined): boolean {
  return char !== undefined && /^[a-zA-Z0-9_./-]$/.test(char);
}

function skipBlanks(input: string, from: number): number {
  let i = from;
  while (isBlank(input[i])) {
    i += 1;
  }
  return i;
}

function labelEnd(input: string, from: number): number {
  let i = from;
  while (isLabelChar(input[i])) {
    i += 1;
  }
  return i;
}

type Failure = [offset: number, reason: SelectorParseErrorReason, message: string, expected: string];

/** Why `label` (found at `offset`) is not a valid label, or undefined when it is. */
function checkLabel(label: string, offset: number, expectedIfEmpty: string): Failure | undefined {
  if (label.length === 0) {
    return [offset, 'expected-identifier', 'expected identifier', expectedIfEmpty];
  }
  if (label.length > MAX_LABEL_LENGTH) {
    return [offset, 'label-too-long', `label too long: ${label}`, `a label of at most ${MAX_LABEL_LENGTH} characters`];
  }
  return undefined;
}

/**
 * Matches a (multi-word) operator at `from`. Like Calico, blanks after every
 * word (the last one too) are consumed before requiring a word boundary, so
 * `a starts with b` is not an operator while `a contains b` is.
 * Returns the index after the operator, or -1.
 */
function matchOperator(input: string, from: number, words: readonly string[]): number {
  let i = from;
  for (const word of words) {
    if (!input.startsWith(word, i)) {
      return -1;
    }
    i += word.length;
    if (words.length > 1) {
      i = skipBlanks(input, i);
    }
  }
  return isLabelChar(input[i]) ? -1 : i;
}

/** The first of {@link LABEL_OPERATORS} found at `from`, with the index after it. */
function scanOperator(input: string, from: number): { readonly kind: TokenKind; readonly end: number } | undefined {
  for (const { words, kind } of LABEL_OPERATORS) {
    const end = matchOperator(input, from, words);
    if (end !== -1) {
      return { kind, end };
    }
  }
  return undefined;
}

/**
 * Splits a selector into tokens following Calico's tokenizer (docs/calico-compat.md §3.1):
 * blanks are spaces and tabs only; strings have no escapes; operator words are
 * special only right after a label, function names only where a label would
 * start. The first lexical error is returned as a value with its column.
 */
export function tokenizeSelector(input: string): TokenizeResult {
  const tokens: Token[] = [];
  const fail = (...[offset, reason, message, expected]: Failure): TokenizeResult => ({
    ok: false,
    error: new SelectorParseError({ reason, message, selector: input, offset, expected }),
  });
  const push = (kind: TokenKind, offset: number, value = ''): void => {
    tokens.push({ kind, value, offset });
  };

  let i = 0;
  for (;;) {
    i = skipBlanks(input, i);
    if (i >= input.length) {
      push('eof', input.length);
      return { ok: true, tokens };
    }
    const start = i;
    const char = input[i];
    const punctuation = PUNCTUATION[char];
    if (punctuation !== undefined) {
      push(punctuation, start);
      i += 1;
      continue;
    }
    switch (char) {
      case '"':
      case "'": {
        const close = input.indexOf(char, start + 1);
        if (close === -1) {
          return fail(start, 'unterminated-string', 'unterminated string', `a closing ${char}`);
        }
        push('string', start, input.slice(start + 1, close));
        i = close + 1;
        continue;
      }
      case '=':
        if (input[i + 1] !== '=') {
          return fail(start, 'expected-eq', 'expected ==', '"=="');
        }
        push('eq', start);
        i += 2;
        continue;
      case '!':
        if (input[i + 1] === '=') {
          push('ne', start);
          i += 2;
        } else {
          push('not', start);
          i += 1;
        }
        continue;
      case '&':
      case '|':
        if (input[i + 1] !== char) {
          const pair = `${char}${char}`;
          return fail(start, char === '&' ? 'expected-and' : 'expected-or', `expected ${pair}`, `"${pair}"`);
        }
        push(char === '&' ? 'and' : 'or', start);
        i += 2;
        continue;
    }

    const previous = tokens.at(-1);
    if (previous?.kind === 'label') {
      const operator = scanOperator(input, start);
      if (operator === undefined) {
        return fail(start, 'expected-operator', `expected operator after label "${previous.value}"`, ANY_OPERATOR);
      }
      push(operator.kind, start);
      i = operator.end;
      continue;
    }

    const fn = FUNCTIONS.find((candidate) => input.startsWith(candidate.opening, start));
    if (fn !== undefined) {
      let value = '';
      i = skipBlanks(input, start + fn.opening.length);
      if (fn.kind === 'has') {
        const end = labelEnd(input, i);
        value = input.slice(i, end);
        const invalid = checkLabel(value, i, 'a label name');
        if (invalid !== undefined) {
          return fail(...invalid);
        }
        i = skipBlanks(input, end);
      }
      if (input[i] !== ')') {
        return fail(i, 'unclosed-function', `no closing ')' after ${fn.opening}`, '")"');
      }
      push(fn.kind, start, value);
      i += 1;
      continue;
    }

    const end = labelEnd(input, start);
    const label = input.slice(start, end);
    const invalid = checkLabel(label, start, 'a label, string, operator or parenthesis');
    if (invalid !== undefined) {
      return fail(...invalid);
    }
    push('label', start, label);
    i = end;
  }
}
