import { describe, expect, it } from 'vitest';
import { mustParseSelector } from '../src/index.js';
import type { Labels } from '../src/index.js';

type LabelMap = Readonly<Record<string, string>>;

/** selector, label maps it matches, label maps it does not match. */
const cases: readonly [selector: string, matches: readonly LabelMap[], nonMatches: readonly LabelMap[]][] = [
  // The evaluation table of docs/calico-compat.md §3.3, one operator at a time.
  ['a == "b"', [{ a: 'b' }, { a: 'b', c: 'd' }], [{}, { a: 'c' }, { a: 'B' }, { c: 'b' }]],
  ["a == ''", [{ a: '' }], [{}, { a: ' ' }]],
  ['a != "b"', [{}, { a: 'c' }, { a: '' }, { c: 'b' }], [{ a: 'b' }]],
  ['has(a)', [{ a: '' }, { a: 'x' }], [{}, { b: 'a' }, { A: 'x' }]],
  ['!has(a)', [{}, { b: 'a' }], [{ a: '' }]],
  ['a in {"x", "y"}', [{ a: 'x' }, { a: 'y' }], [{}, { a: 'z' }, { a: 'X' }, { b: 'x' }]],
  ['a in {}', [], [{}, { a: '' }, { a: 'x' }]],
  ['a not in {"x", "y"}', [{}, { a: 'z' }, { b: 'x' }], [{ a: 'x' }, { a: 'y' }]],
  ['a not in {}', [{}, { a: '' }, { a: 'x' }], []],
  [`a in {"'", '"', "c"}`, [{ a: "'" }, { a: '"' }, { a: 'c' }], [{}, { a: 'e' }]],
  ['a contains "ab"', [{ a: 'ab' }, { a: 'xaby' }], [{}, { a: 'a' }, { a: 'AB' }, { b: 'ab' }]],
  ['a contains ""', [{ a: '' }, { a: 'x' }], [{}]],
  ['a starts with "ab"', [{ a: 'ab' }, { a: 'abc' }], [{}, { a: 'cab' }, { a: 'Abc' }]],
  ['a ends with "ab"', [{ a: 'ab' }, { a: 'cab' }], [{}, { a: 'abc' }, { a: 'cAB' }]],
  ['all()', [{}, { a: 'b' }], []],
  ['global()', [{}, { a: 'b' }], []],
  ['', [{}, { a: 'b' }], []],
  [' \t', [{}, { a: 'b' }], []],
  ['!all()', [], [{}, { a: 'b' }]],
  ['!global()', [], [{}, { a: 'b' }]],
  // Negation and its cancellation.
  ['!a == "b"', [{}, { a: 'c' }], [{ a: 'b' }]],
  ['!!has(a)', [{ a: 'x' }], [{}]],
  ['!!!has(a)', [{}], [{ a: 'x' }]],
  ['! !! has(a)', [{}], [{ a: 'x' }]],
  ['!(!has(a))', [{ a: 'x' }], [{}]],
  ['!a != "b"', [{ a: 'b' }], [{}, { a: 'c' }]],
  ['!a not in {"b"}', [{ a: 'b' }], [{}, { a: 'c' }]],
  // Precedence: || < && < ! < terms.
  ['a == "1" || b == "1" && c == "1"', [{ a: '1' }, { b: '1', c: '1' }], [{}, { b: '1' }, { c: '1' }]],
  ['b == "1" && c == "1" || a == "1"', [{ a: '1' }, { b: '1', c: '1' }], [{}, { b: '1' }, { c: '1' }]],
  ['(a == "1" || b == "1") && c == "1"', [{ a: '1', c: '1' }, { b: '1', c: '1' }], [{ a: '1' }, { b: '1' }, { c: '1' }]],
  ['!has(a) && has(b)', [{ b: '' }], [{ a: '', b: '' }, {}]],
  ['!(has(a) && has(b))', [{}, { a: '' }, { b: '' }], [{ a: '', b: '' }]],
  ['!has(a) || has(b)', [{}, { a: '', b: '' }, { b: '' }], [{ a: '' }]],
  ['!(has(b) || !has(a))', [{ a: 'a' }], [{}, { a: 'a', b: 'b' }]],
  ['! a == "a1" || ! b == "b1"', [{}, { a: 'a1' }], [{ a: 'a1', b: 'b1' }]],
  ['a != "a1" && b != "b1"', [{}, { a: 'x', b: 'y' }], [{ a: 'a1' }, { b: 'b1' }]],
  // Labels named like keywords.
  ['in == "x"', [{ in: 'x' }], [{}, { in: 'y' }]],
  ['contains == "y"', [{ contains: 'y' }], [{ contains: 'x' }]],
  ['not in {"a"}', [{ not: 'a' }], [{}, { not: 'b' }]],
  ['has == "h" && all == "a"', [{ has: 'h', all: 'a' }], [{ has: 'h' }]],
  // Object keys that live on Object.prototype are ordinary labels.
  ['has(constructor)', [{ constructor: 'x' }], [{}]],
  ['has(toString) || has(__proto__)', [Object.fromEntries([['__proto__', 'p']])], [{}]],
  ['constructor != "x"', [{}], [{ constructor: 'x' }]],
  ['hasOwnProperty not in {"y"}', [{}], [{ hasOwnProperty: 'y' }]],
];

function asMap(labels: LabelMap): Labels {
  return new Map(Object.entries(labels));
}

describe('Selector.matches', () => {
  describe.each(cases)('%j', (selector, matches, nonMatches) => {
    const parsed = mustParseSelector(selector);
    const canonical = mustParseSelector(parsed.toString());

    it.each(matches.map((labels) => [labels]))('matches %j (object, Map, canonical form)', (labels) => {
      expect(parsed.matches(labels)).toBe(true);
      expect(parsed.matches(asMap(labels))).toBe(true);
      expect(canonical.matches(labels)).toBe(true);
    });

    it.each(nonMatches.map((labels) => [labels]))('does not match %j (object, Map, canonical form)', (labels) => {
      expect(parsed.matches(labels)).toBe(false);
      expect(parsed.matches(asMap(labels))).toBe(false);
      expect(canonical.matches(labels)).toBe(false);
    });
  });

  it('can be passed around unbound', () => {
    const { matches } = mustParseSelector('rack == "r1"');
    const nodes: readonly LabelMap[] = [{ rack: 'r1' }, { rack: 'r2' }, {}];
    expect(nodes.filter(matches)).toEqual([{ rack: 'r1' }]);
  });

  it('accepts any ReadonlyMap implementation', () => {
    const labels: ReadonlyMap<string, string> = new Map([['get', 'x']]);
    expect(mustParseSelector('get == "x"').matches(labels)).toBe(true);
    expect(mustParseSelector('get == "x"').matches({ get: 'x' })).toBe(true);
  });
});
