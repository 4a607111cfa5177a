import { describe, expect, it } from 'vitest';
import { mergePatch } from '../src/index.js';

describe('mergePatch (RFC 7386)', () => {
  it.each([
    [{ spec: { a: 1, b: 2 } }, { spec: { b: 3 } }, { spec: { a: 1, b: 3 } }],
    [{ spec: { a: 1, b: 2 } }, { spec: { b: null } }, { spec: { a: 1 } }],
    [{ spec: { uses: ['x', 'y'] } }, { spec: { uses: ['z'] } }, { spec: { uses: ['z'] } }],
    [{ metadata: { labels: { a: 'x' } } }, { metadata: { labels: { b: 'y' } } }, { metadata: { labels: { a: 'x', b: 'y' } } }],
    [{ a: 1 }, { b: { c: 2 } }, { a: 1, b: { c: 2 } }],
  ])('%j + %j = %j', (target, patch, expected) => {
    expect(mergePatch(target, patch)).toEqual(expected);
  });
});
