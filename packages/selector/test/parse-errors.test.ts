import { describe, expect, it } from 'vitest';
import {
  isSelectorSyntaxError,
  mustParseSelector,
  parseSelector,
  SelectorParseError,
  SelectorSyntaxError,
} from '../src/index.js';
import type { SelectorParseErrorReason } from '../src/index.js';

const long = 'k'.repeat(513);

/** selector, reason, Calico's text, 1-based column. */
const cases: readonly [selector: string, reason: SelectorParseErrorReason, message: string, column: number][] = [
  // Lexical errors.
  ['a == "b', 'unterminated-string', 'unterminated string', 6],
  ["a == 'b", 'unterminated-string', 'unterminated string', 6],
  [`"FOO'`, 'unterminated-string', 'unterminated string', 1],
  ['a = "b"', 'expected-eq', 'expected ==', 3],
  ['a == "b" & c == "d"', 'expected-and', 'expected &&', 10],
  ['foo == "bar" &', 'expected-and', 'expected &&', 14],
  ['a == "b" | c == "d"', 'expected-or', 'expected ||', 10],
  ['foo == "bar" |', 'expected-or', 'expected ||', 14],
  ['a b', 'expected-operator', 'expected operator after label "a"', 3],
  ['a containsx "b"', 'expected-operator', 'expected operator after label "a"', 3],
  ['a inx {"b"}', 'expected-operator', 'expected operator after label "a"', 3],
  ['a starts "b"', 'expected-operator', 'expected operator after label "a"', 3],
  ['a ends "b"', 'expected-operator', 'expected operator after label "a"', 3],
  ['a not "b"', 'expected-operator', 'expected operator after label "a"', 3],
  // Calico consumes blanks after a multi-word operator before its word-boundary check.
  ['a starts with b', 'expected-operator', 'expected operator after label "a"', 3],
  ['a not in b', 'expected-operator', 'expected operator after label "a"', 3],
  ['x/y  has(b)', 'expected-operator', 'expected operator after label "x/y"', 6],
  ['a\n== "b"', 'expected-operator', 'expected operator after label "a"', 2],
  ['has(a', 'unclosed-function', "no closing ')' after has(", 6],
  ['has(a b)', 'unclosed-function', "no closing ')' after has(", 7],
  ['all(', 'unclosed-function', "no closing ')' after all(", 5],
  ['all(x)', 'unclosed-function', "no closing ')' after all(", 5],
  ['global( x)', 'unclosed-function', "no closing ')' after global(", 9],
  ['has()', 'expected-identifier', 'expected identifier', 5],
  ['has( %)', 'expected-identifier', 'expected identifier', 6],
  ['%', 'expected-identifier', 'expected identifier', 1],
  ['a == "b" && %', 'expected-identifier', 'expected identifier', 13],
  ['a == "b"\n', 'expected-identifier', 'expected identifier', 9],
  ['a == "b" &&\nc == "d"', 'expected-identifier', 'expected identifier', 12],
  ['é == "x"', 'expected-identifier', 'expected identifier', 1],
  [`${long} == "x"`, 'label-too-long', `label too long: ${long}`, 1],
  [`has(${long})`, 'label-too-long', `label too long: ${long}`, 5],
  [`a == "x" || ${long} == "x"`, 'label-too-long', `label too long: ${long}`, 13],
  // Parser errors.
  ['a', 'unexpected-end', 'unexpected end of string looking for op', 2],
  ['a ', 'unexpected-end', 'unexpected end of string looking for op', 3],
  ['has(foo) && b', 'unexpected-end', 'unexpected end of string looking for op', 14],
  ['a == b', 'expected-string', 'expected string', 6],
  ['b contains b', 'expected-string', 'expected string', 12],
  ['a != ||', 'expected-string', 'expected string', 6],
  ['a == {', 'expected-string', 'expected string', 6],
  ['a starts with {"x"}', 'expected-string', 'expected string', 15],
  ['a ends with', 'expected-string', 'expected string', 12],
  ['a == ', 'expected-string', 'expected string', 6],
  ['foo in ""', 'expected-set', 'expected set literal', 8],
  ['a not in "x"', 'expected-set', 'expected set literal', 10],
  ['a in', 'expected-set', 'expected set literal', 5],
  ['a in (', 'expected-set', 'expected set literal', 6],
  ['a in {"x" "y"}', 'expected-rbrace', 'expected }', 11],
  ['a in {,}', 'expected-rbrace', 'expected }', 7],
  ['foo in {"", ||', 'expected-rbrace', 'expected }', 13],
  ['a in {"x",', 'expected-rbrace', 'expected }', 11],
  ['a in {"x",,}', 'expected-rbrace', 'expected }', 11],
  ['(a == "foo"', 'expected-rparen', 'expected )', 12],
  ['(a == "x" b == "y")', 'expected-rparen', 'expected )', 11],
  ['((has(a))', 'expected-rparen', 'expected )', 10],
  ['has (k)', 'expected-comparison', 'expected == or != not: TokLParen()', 5],
  ['a "x"', 'expected-comparison', 'expected == or != not: TokStringLiteral(x)', 3],
  ['a )', 'expected-comparison', 'expected == or != not: TokRParen()', 3],
  ['a && b == "c"', 'expected-comparison', 'expected == or != not: TokAnd()', 3],
  ['a ! "x"', 'expected-comparison', 'expected == or != not: TokNot()', 3],
  ['a ! = "x"', 'expected-eq', 'expected ==', 5],
  ['(', 'unexpected-token', 'unexpected token: TokEOF()', 2],
  [')', 'unexpected-token', 'unexpected token: TokRParen()', 1],
  ['()', 'unexpected-token', 'unexpected token: TokRParen()', 2],
  ['!', 'unexpected-token', 'unexpected token: TokEOF()', 2],
  ['has(foo) &&', 'unexpected-token', 'unexpected token: TokEOF()', 12],
  ['a == "b" ||', 'unexpected-token', 'unexpected token: TokEOF()', 12],
  ["'b1' == b", 'unexpected-token', 'unexpected token: TokStringLiteral(b1)', 1],
  ['&& a == "b"', 'unexpected-token', 'unexpected token: TokAnd()', 1],
  ['a == "b" && || c == "d"', 'unexpected-token', 'unexpected token: TokOr()', 13],
  ['{', 'unexpected-token', 'unexpected token: TokLBrace()', 1],
  [',', 'unexpected-token', 'unexpected token: TokComma()', 1],
  ['!= "x"', 'unexpected-token', 'unexpected token: TokNe()', 1],
  ['a == "b" )', 'trailing-content', 'unexpected content at end of selector [TokRParen() TokEOF()]', 10],
  ['has(a) == "x"', 'trailing-content', 'unexpected content at end of selector [TokEq() TokStringLiteral(x) TokEOF()]', 8],
  ['all() global()', 'trailing-content', 'unexpected content at end of selector [TokGlobal() TokEOF()]', 7],
  ['a == "b" c == "d"', 'trailing-content', 'unexpected content at end of selector [TokLabel(c) TokEq() TokStringLiteral(d) TokEOF()]', 10],
  ['has(a) in {"x"}', 'trailing-content', 'unexpected content at end of selector [TokLabel(in) TokLBrace() TokStringLiteral(x) TokRBrace() TokEOF()]', 8],
];

describe('parseSelector errors', () => {
  it.each(cases)('%j fails with %s: %s at column %i', (selector, reason, message, column) => {
    const result = parseSelector(selector);
    expect(result.ok).toBe(false);
    if (result.ok) {
      return;
    }
    expect(result.error).toBeInstanceOf(SelectorParseError);
    expect({ reason: result.error.reason, message: result.error.message, column: result.error.column }).toEqual({
      reason,
      message,
      column,
    });
    expect(result.error.selector).toBe(selector);
    expect(result.error.expected).toMatch(/\S/);
  });

  it('formats the message with its column and the quoted selector', () => {
    const result = parseSelector('a == b');
    expect(!result.ok && result.error.format()).toBe('expected string at column 6 of selector "a == b"');
    expect(!result.ok && String(result.error)).toBe('expected string at column 6 of selector "a == b"');
  });

  it('escapes quotes and newlines of the selector in the display text', () => {
    const result = parseSelector('a == "b" &&\n');
    expect(!result.ok && result.error.format()).toBe(String.raw`expected identifier at column 12 of selector "a == \"b\" &&\n"`);
  });

  it.each([
    ['a in {"x" "y"}', '"," or "}"'],
    ['a in {"x", 1}', 'a quoted string or "}"'],
    ['a == b', 'a quoted string after =='],
    ['a ends with b', 'an operator: ==, !=, contains, starts with, ends with, in or not in'],
    ['(a == "x"', '")"'],
  ])('says what was expected for %j', (selector, expected) => {
    const result = parseSelector(selector);
    expect(!result.ok && result.error.expected).toBe(expected);
  });

  it('counts columns in code points and offsets in UTF-16 units', () => {
    const result = parseSelector('a == "😀" && %');
    expect(!result.ok && [result.error.column, result.error.offset]).toEqual([13, 13]);
    const wide = parseSelector('a == "😀😀" && %');
    expect(!wide.ok && [wide.error.column, wide.error.offset]).toEqual([14, 15]);
  });

  it('returns a frozen, serialisable error value', () => {
    const result = parseSelector('a in {');
    expect(result.ok).toBe(false);
    if (result.ok) {
      return;
    }
    expect(Object.isFrozen(result.error)).toBe(true);
    expect(JSON.parse(JSON.stringify(result.error))).toEqual({
      reason: 'expected-rbrace',
      message: 'expected }',
      selector: 'a in {',
      offset: 6,
      column: 7,
      expected: 'a quoted string or "}"',
    });
  });
});

describe('mustParseSelector', () => {
  it('returns the selector when it parses', () => {
    expect(mustParseSelector("rack == 'rack-1'").toString()).toBe('rack == "rack-1"');
  });

  it('throws a SelectorSyntaxError carrying the parse error', () => {
    let caught: unknown;
    try {
      mustParseSelector('a == b');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SelectorSyntaxError);
    expect(isSelectorSyntaxError(caught)).toBe(true);
    if (!isSelectorSyntaxError(caught)) {
      return;
    }
    expect(caught.name).toBe('SelectorSyntaxError');
    expect(caught.message).toBe('expected string at column 6 of selector "a == b"');
    expect(caught.detail.reason).toBe('expected-string');
    expect(caught.detail.column).toBe(6);
  });

  it('keeps a cause given to the error', () => {
    const result = parseSelector('(');
    if (result.ok) {
      throw new Error('expected a parse failure');
    }
    const cause = new Error('while loading defaults');
    expect(new SelectorSyntaxError(result.error, { cause }).cause).toBe(cause);
  });
});

describe('isSelectorSyntaxError', () => {
  const detail = (parseSelector('(') as { ok: false; error: SelectorParseError }).error;
  it.each([
    ['a SelectorSyntaxError', new SelectorSyntaxError(detail), true],
    ['one from another copy of the package', Object.assign(new Error('x'), { name: 'SelectorSyntaxError', detail }), true],
    ['a plain Error', new Error('expected string'), false],
    ['a look-alike plain object', { name: 'SelectorSyntaxError', detail }, false],
    ['a parse error value', detail, false],
    ['null', null, false],
    ['a string', 'SelectorSyntaxError', false],
  ])('%s → %s', (_name, value, expected) => {
    expect(isSelectorSyntaxError(value)).toBe(expected);
  });
});
