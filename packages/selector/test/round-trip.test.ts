import { describe, expect, it } from 'vitest';
import { parseSelector } from '../src/index.js';
import { makeRandom, normaliseTree, randomLabels, randomTree, referenceEvaluate, renderTree } from './random-selectors.js';

const CASES = 3000;
const LABEL_MAPS = 12;

describe('random selectors (seeded)', () => {
  it(`parse as generated, print canonically, re-parse to an equal selector (${CASES} cases)`, () => {
    const random = makeRandom(0x7abb1);
    for (let n = 0; n < CASES; n += 1) {
      const tree = randomTree(random, random.int(5));
      const text = renderTree(random, tree);
      const parsed = parseSelector(text);
      if (!parsed.ok) {
        expect.fail(`case ${n}: ${parsed.error.format()}`);
      }
      const { selector } = parsed;
      expect(selector.root, `case ${n}: ${text}`).toEqual(normaliseTree(tree));

      const canonical = selector.toString();
      const again = parseSelector(canonical);
      if (!again.ok) {
        expect.fail(`case ${n}: canonical form rejected: ${again.error.format()}`);
      }
      expect(again.selector.toString(), `case ${n}: ${text}`).toBe(canonical);
      expect(again.selector.root).toEqual(selector.root);

      for (let m = 0; m < LABEL_MAPS; m += 1) {
        const labels = randomLabels(random);
        const expected = referenceEvaluate(tree, labels);
        const context = `case ${n}: ${text} with ${JSON.stringify([...labels])}`;
        expect(selector.matches(labels), context).toBe(expected);
        expect(selector.matches(Object.fromEntries(labels)), context).toBe(expected);
        expect(again.selector.matches(labels), context).toBe(expected);
      }
    }
  });

  it('never throw when mangled, and point inside the text (2000 mutations)', () => {
    const random = makeRandom(0x5e1ec7);
    const alphabet = ['(', ')', '{', '}', ',', '=', '!', '&', '|', '"', "'", ' ', '\t', '\n', '%', 'a', 'in', 'has(', 'é'];
    for (let n = 0; n < 2000; n += 1) {
      const text = renderTree(random, randomTree(random, 3));
      const at = random.int(text.length + 1);
      const mangled = random.chance(0.5)
        ? text.slice(0, at) + text.slice(at + 1 + random.int(3))
        : text.slice(0, at) + random.pick(alphabet) + text.slice(at);
      const result = parseSelector(mangled);
      if (result.ok) {
        const again = parseSelector(result.selector.toString());
        expect(again.ok && again.selector.toString(), mangled).toBe(result.selector.toString());
      } else {
        expect(result.error.offset, mangled).toBeGreaterThanOrEqual(0);
        expect(result.error.offset, mangled).toBeLessThanOrEqual(mangled.length);
        expect(result.error.format(), mangled).toContain(`at column ${result.error.column} of selector`);
      }
    }
  });
});
