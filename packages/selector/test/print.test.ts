import { describe, expect, it } from 'vitest';
import { mustParseSelector } from '../src/index.js';

/** input, Calico's canonical string for it. */
const cases: readonly [input: string, canonical: string][] = [
  ['', 'all()'],
  ['   ', 'all()'],
  ['\t', 'all()'],
  [' all() ', 'all()'],
  [' (all() )', 'all()'],
  ['global( )', 'global()'],
  ['has( a )', 'has(a)'],
  ['!has(i-am-a-route-reflector)', '!has(i-am-a-route-reflector)'],
  ["rack == 'rack-1'", 'rack == "rack-1"'],
  ['a=="b"&&c in{"y","x"}', '(a == "b" && c in {"x", "y"})'],
  ['! (has( b)||! has(a ))', '!(has(b) || !has(a))'],
  ['! (a == "b"&&! c != "d")', '!(a == "b" && !c != "d")'],
  // Quotes: double unless the value holds a double quote.
  [`a == "'"`, `a == "'"`],
  [`a == '"'`, `a == '"'`],
  [`a contains '"'`, `a contains '"'`],
  [`a contains "'"`, `a contains "'"`],
  [`a startswith '"'`, `a starts with '"'`],
  [`a endswith "'"`, `a ends with "'"`],
  [`a!='"'`, `a != '"'`],
  [`a == 'say "hi"'`, `a == 'say "hi"'`],
  ['a == ""', 'a == ""'],
  ['a == " x\ty "', 'a == " x\ty "'],
  // Sets: sorted by code point, de-duplicated, trailing comma dropped.
  ['a in {"d"}', 'a in {"d"}'],
  ['a in {"d", "a", "b"}', 'a in {"a", "b", "d"}'],
  ['a in {"z", "z", "x", "y", "x", "a"}', 'a in {"a", "x", "y", "z"}'],
  ['a not in {"b",}', 'a not in {"b"}'],
  ['a in {}', 'a in {}'],
  ['a notin{ }', 'a not in {}'],
  ['a in {"b", "B", "a", ""}', 'a in {"", "B", "a", "b"}'],
  [`a in {"'", '"'}`, `a in {'"', "'"}`],
  ['a in {"😀", "ﬀ"}', 'a in {"ﬀ", "😀"}'],
  // Grouping: every && / || group in parentheses, nesting kept, redundant parentheses dropped.
  ['a == "x" && b == "y" && c == "z"', '(a == "x" && b == "y" && c == "z")'],
  ['a == "x" && (b == "y" && c == "z")', '(a == "x" && (b == "y" && c == "z"))'],
  ['a == "1" || b == "1" && c == "1"', '(a == "1" || (b == "1" && c == "1"))'],
  ['((a == "x"))', 'a == "x"'],
  ['!(k == "v")', '!k == "v"'],
  ["!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))", '!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})'],
  // Negation: an even number cancels, through parentheses too.
  ['!!has(a)', 'has(a)'],
  ['!!!has(a)', '!has(a)'],
  ['!(!has(a))', 'has(a)'],
  ['!(!(!has(a)))', '!has(a)'],
  ['!(!has(a) && has(b))', '!(!has(a) && has(b))'],
  // Labels named like keywords print as they are and re-parse.
  ['in == "x"', 'in == "x"'],
  ['contains == "y"', 'contains == "y"'],
  ['not in {"a"}', 'not in {"a"}'],
  ['in not in {"a"}', 'in not in {"a"}'],
  ['has == "h" || all != "a" || global starts with "g"', '(has == "h" || all != "a" || global starts with "g")'],
];

describe('Selector.toString', () => {
  it.each(cases)('%j → %s', (input, canonical) => {
    const selector = mustParseSelector(input);
    expect(selector.toString()).toBe(canonical);
    expect(String(selector)).toBe(canonical);
    const again = mustParseSelector(canonical);
    expect(again.toString()).toBe(canonical);
    expect(again.root).toEqual(selector.root);
  });

  it('keeps the source text as given', () => {
    expect(mustParseSelector(' has( a ) ').source).toBe(' has( a ) ');
  });
});
