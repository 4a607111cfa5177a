import { describe, expect, it } from 'vitest';
import { isMatchAll, labelsUsed, mustParseSelector } from '../src/index.js';

describe('labelsUsed', () => {
  it.each([
    ['', []],
    ['all()', []],
    ['global() || !all()', []],
    ['has(a)', ['a']],
    ['!has(i-am-a-route-reflector)', ['i-am-a-route-reflector']],
    ['a == "1" && b != "2" || c contains "3"', ['a', 'b', 'c']],
    ['x starts with "a" && y ends with "b" && z in {"c"} && w not in {}', ['x', 'y', 'z', 'w']],
    ['!(b == "1" || (a in {"x"} && b != "2"))', ['b', 'a']],
    ['in == "x" && has(contains)', ['in', 'contains']],
  ])('%j reads %j', (selector, labels) => {
    expect([...labelsUsed(mustParseSelector(selector))]).toEqual(labels);
  });
});

describe('isMatchAll', () => {
  it.each([
    ['', true],
    [' \t', true],
    ['all()', true],
    ['global()', true],
    ['!!all()', true],
    ['all() && global()', true],
    ['!all() || all()', true],
    ['!all()', false],
    ['all() && !global()', false],
    ['has(a)', false],
    ['a != "x"', false],
    ['has(a) || !has(a)', false],
  ])('%j → %s', (selector, expected) => {
    expect(isMatchAll(mustParseSelector(selector))).toBe(expected);
  });
});
