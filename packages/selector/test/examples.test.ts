import { describe, expect, it } from 'vitest';
import { mustParseSelector, parseSelector } from '../src/index.js';

/** Node labels of a small cluster, as in the route-reflector walkthrough. */
const nodes: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'rr-1': { 'i-am-a-route-reflector': 'true', rack: 'rack-1' },
  'node-1': { rack: 'rack-1', foo: 'bar' },
  'node-2': { rack: 'rack-2' },
  'node-3': {},
};

function selected(selector: string): string[] {
  const parsed = mustParseSelector(selector);
  return Object.keys(nodes).filter((name) => parsed.matches(nodes[name]));
}

describe('examples from the reference and the walkthrough', () => {
  it.each([
    ['has(i-am-a-route-reflector)', 'has(i-am-a-route-reflector)', ['rr-1']],
    ['!has(i-am-a-route-reflector)', '!has(i-am-a-route-reflector)', ['node-1', 'node-2', 'node-3']],
    ['all()', 'all()', ['rr-1', 'node-1', 'node-2', 'node-3']],
    ['', 'all()', ['rr-1', 'node-1', 'node-2', 'node-3']],
    ["rack == 'rack-1'", 'rack == "rack-1"', ['rr-1', 'node-1']],
    ["foo == 'bar'", 'foo == "bar"', ['node-1']],
    ['rack in {"rack-2", "rack-1"} && !has(i-am-a-route-reflector)', '(rack in {"rack-1", "rack-2"} && !has(i-am-a-route-reflector))', ['node-1', 'node-2']],
  ])('%j prints as %s and selects %j', (selector, canonical, names) => {
    expect(mustParseSelector(selector).toString()).toBe(canonical);
    expect(selected(selector)).toEqual(names);
  });

  it('prints the reference example of the canonical form exactly', () => {
    expect(mustParseSelector(`a == 'b' && c in {'y', 'x', 'x'}`).toString()).toBe('(a == "b" && c in {"x", "y"})');
  });

  it('rejects a selector ending in a newline, as a YAML block scalar gives', () => {
    const result = parseSelector('has(i-am-a-route-reflector)\n');
    expect(!result.ok && result.error.format()).toBe(
      String.raw`expected identifier at column 28 of selector "has(i-am-a-route-reflector)\n"`,
    );
  });
});
