import { describe, expect, it } from 'vitest';
import { tabwrite } from '../src/index.js';

describe('tabwrite (Go text/tabwriter, minwidth 5, padding 3)', () => {
  it('matches calicoctl system-test output byte for byte', () => {
    expect(
      tabwrite([
        ['NAME', 'CIDR', 'SELECTOR'],
        ['ippool-name1', '10.0.1.0/24', "foo == 'bar'"],
      ]),
    ).toBe("NAME           CIDR          SELECTOR       \nippool-name1   10.0.1.0/24   foo == 'bar'   \n");
  });

  it('pads short columns to the minimum width of 5 and keeps empty cells', () => {
    expect(tabwrite([['A', 'B'], ['', 'xy']])).toBe('A    B    \n     xy   \n');
  });

  it('counts characters, not bytes, and sanitizes tabs and newlines in cells', () => {
    expect(tabwrite([['NAME'], ['é-node'], ['a\tb\nc']])).toBe('NAME     \né-node   \na b c    \n');
  });
});
