import { describe, expect, it } from 'vitest';
import { displayToken, MAX_LABEL_LENGTH, tokenizeSelector } from '../src/index.js';

/** Tokens of `input` in Calico's display form, or the error text. */
function lex(input: string): string {
  const result = tokenizeSelector(input);
  return result.ok ? result.tokens.map(displayToken).join(' ') : `error: ${result.error.message}`;
}

describe('tokenizeSelector', () => {
  const cases: readonly [name: string, input: string, tokens: string][] = [
    ['empty input', '', 'TokEOF()'],
    ['blanks only', ' \t ', 'TokEOF()'],
    ['equality without spaces', 'a=="b"', 'TokLabel(a) TokEq() TokStringLiteral(b) TokEOF()'],
    ['inequality, single quotes', "a!='b'", 'TokLabel(a) TokNe() TokStringLiteral(b) TokEOF()'],
    ['tabs as blanks', '\ta\t==\t"b"\t', 'TokLabel(a) TokEq() TokStringLiteral(b) TokEOF()'],
    ['every label character', 'k8s.io/Name_x-1 == ""', 'TokLabel(k8s.io/Name_x-1) TokEq() TokStringLiteral() TokEOF()'],
    ['contains', 'a contains "x"', 'TokLabel(a) TokContains() TokStringLiteral(x) TokEOF()'],
    ['contains directly before a string', 'a contains"x"', 'TokLabel(a) TokContains() TokStringLiteral(x) TokEOF()'],
    ['starts with', 'a starts with "x"', 'TokLabel(a) TokStartsWith() TokStringLiteral(x) TokEOF()'],
    ['startswith as one word', 'a startswith "x"', 'TokLabel(a) TokStartsWith() TokStringLiteral(x) TokEOF()'],
    ['starts with, blanks between words', 'a starts \t with"x"', 'TokLabel(a) TokStartsWith() TokStringLiteral(x) TokEOF()'],
    ['ends with', 'a ends with "x"', 'TokLabel(a) TokEndsWith() TokStringLiteral(x) TokEOF()'],
    ['endswith as one word', "a endswith'x'", 'TokLabel(a) TokEndsWith() TokStringLiteral(x) TokEOF()'],
    ['in', 'a in {"x", "y"}', 'TokLabel(a) TokIn() TokLBrace() TokStringLiteral(x) TokComma() TokStringLiteral(y) TokRBrace() TokEOF()'],
    ['in directly before a brace', 'a in{}', 'TokLabel(a) TokIn() TokLBrace() TokRBrace() TokEOF()'],
    ['not in', 'a not in {"x",}', 'TokLabel(a) TokNotIn() TokLBrace() TokStringLiteral(x) TokComma() TokRBrace() TokEOF()'],
    ['notin as one word', 'a notin{}', 'TokLabel(a) TokNotIn() TokLBrace() TokRBrace() TokEOF()'],
    ['has with blanks inside', 'has( a\t)', 'TokHas(a) TokEOF()'],
    ['all with a blank inside', 'all( )', 'TokAll() TokEOF()'],
    ['global with a tab inside', 'global(\t)', 'TokGlobal() TokEOF()'],
    ['has followed by a blank is a label', 'has (k)', 'TokLabel(has) TokLParen() TokLabel(k) TokRParen() TokEOF()'],
    ['a label then a parenthesis', 'a(', 'TokLabel(a) TokLParen() TokEOF()'],
    ['negations', '!!has(a)', 'TokNot() TokNot() TokHas(a) TokEOF()'],
    ['boolean operators', 'a=="1"&&b=="2"||c=="3"', 'TokLabel(a) TokEq() TokStringLiteral(1) TokAnd() TokLabel(b) TokEq() TokStringLiteral(2) TokOr() TokLabel(c) TokEq() TokStringLiteral(3) TokEOF()'],
    ['label named in', 'in == "x"', 'TokLabel(in) TokEq() TokStringLiteral(x) TokEOF()'],
    ['label named contains', 'contains == "y"', 'TokLabel(contains) TokEq() TokStringLiteral(y) TokEOF()'],
    ['label named not, then in', 'not in {"a"}', 'TokLabel(not) TokIn() TokLBrace() TokStringLiteral(a) TokRBrace() TokEOF()'],
    ['label named in, then in', 'in in {}', 'TokLabel(in) TokIn() TokLBrace() TokRBrace() TokEOF()'],
    ['labels named like functions', 'has == "h" && all != "a" && global contains "g"', 'TokLabel(has) TokEq() TokStringLiteral(h) TokAnd() TokLabel(all) TokNe() TokStringLiteral(a) TokAnd() TokLabel(global) TokContains() TokStringLiteral(g) TokEOF()'],
    ['operator words after a string are labels', 'a == "x" in', 'TokLabel(a) TokEq() TokStringLiteral(x) TokLabel(in) TokEOF()'],
    ['single quote inside double quotes', `a == "it's"`, "TokLabel(a) TokEq() TokStringLiteral(it's) TokEOF()"],
    ['double quote inside single quotes', `a == 'say "hi"'`, 'TokLabel(a) TokEq() TokStringLiteral(say "hi") TokEOF()'],
    ['no escapes in strings', String.raw`a == "x\"`, String.raw`TokLabel(a) TokEq() TokStringLiteral(x\) TokEOF()`],
    ['newline inside a string is text', 'a == "x\ny"', 'TokLabel(a) TokEq() TokStringLiteral(x\ny) TokEOF()'],
    ['label of the maximum length', `${'k'.repeat(MAX_LABEL_LENGTH)} == "v"`, `TokLabel(${'k'.repeat(512)}) TokEq() TokStringLiteral(v) TokEOF()`],
    ['has of the maximum length', `has(${'k'.repeat(512)})`, `TokHas(${'k'.repeat(512)}) TokEOF()`],
    ['newline where a token starts', 'a == "x"\n', 'error: expected identifier'],
    ['carriage return after a label', 'a\r== "x"', 'error: expected operator after label "a"'],
  ];

  it.each(cases)('%s: %j', (_name, input, tokens) => {
    expect(lex(input)).toBe(tokens);
  });

  it('records the offset of each token and of the end', () => {
    const result = tokenizeSelector(' a  starts with\t"x" ');
    expect(result.ok && result.tokens.map((token) => [token.kind, token.offset])).toEqual([
      ['label', 1],
      ['starts-with', 4],
      ['string', 16],
      ['eof', 20],
    ]);
  });

  it('never throws on any prefix of a selector', () => {
    const input = 'a in {"x", \'y\'} && !has(b) || c starts with "z"';
    for (let end = 0; end <= input.length; end += 1) {
      expect(() => tokenizeSelector(input.slice(0, end))).not.toThrow();
    }
  });
});
