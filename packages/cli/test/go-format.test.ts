/**
 * goFormat against outputs of Go's fmt (`fmt.Sprintf("%.5g", x)` and friends), including
 * the cases where JavaScript's toPrecision/toFixed differ: halfway cases round to even,
 * %g drops trailing zeros and switches to %e at the precision, exponents have two digits.
 */
import { describe, expect, it } from 'vitest';
import { goFormat } from '../src/go-format.js';

describe('goFormat %.5g', () => {
  it.each([
    [0, '0'],
    [5, '5'],
    [64, '64'],
    [65531, '65531'],
    [65536, '65536'],
    [99999, '99999'],
    [100000, '1e+05'],
    [123456, '1.2346e+05'],
    // exact ties go to the even digit (toPrecision would give 1.2345e+5)
    [123445, '1.2344e+05'],
    [123455, '1.2346e+05'],
    [99999.5, '1e+05'],
    [1048576, '1.0486e+06'],
    [16777216, '1.6777e+07'],
    [2 ** 32, '4.295e+09'],
    [2 ** 64, '1.8447e+19'],
    [2 ** 80, '1.2089e+24'],
    [2 ** 80 - 5, '1.2089e+24'],
    [2 ** 128, '3.4028e+38'],
    [1e100, '1e+100'],
    [0.1, '0.1'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1.5, '1.5'],
    [123.456, '123.46'],
    [12345.6, '12346'],
    [-2.5, '-2.5'],
    [Number.MIN_VALUE, '4.9407e-324'],
    [NaN, 'NaN'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
  ])('%s → %s', (x, want) => {
    expect(goFormat(x, 'g', 5)).toBe(want);
  });

  it('prints -0 with its sign, as Go does', () => {
    expect(goFormat(-0, 'g', 5)).toBe('-0');
  });
});

describe('goFormat %.f (percentages)', () => {
  it.each([
    [0, '0'],
    [0.5, '0'],
    [1.5, '2'],
    [2.5, '2'],
    [12.5, '12'],
    [37.5, '38'],
    [0.49999999999999994, '0'],
    [(100 * 5) / 65536, '0'],
    [(100 * 65531) / 65536, '100'],
    [(100 * 1) / 64, '2'],
    [(100 * 3) / 64, '5'],
    [(100 * 32) / 64, '50'],
    [99.99, '100'],
    [1e21, '1000000000000000000000'],
    [-1.5, '-2'],
  ])('%s → %s', (x, want) => {
    expect(goFormat(x, 'f', 0)).toBe(want);
  });

  it('pads fractions with zeros', () => {
    expect(goFormat(1.25, 'f', 3)).toBe('1.250');
    expect(goFormat(0.125, 'f', 2)).toBe('0.12');
    expect(goFormat(0.001, 'f', 1)).toBe('0.0');
  });
});

describe('goFormat %e', () => {
  it.each([
    [0, 2, '0.00e+00'],
    [1234.5678, 2, '1.23e+03'],
    [9.995, 2, '9.99e+00'],
    [9.9951, 2, '1.00e+01'],
    [1e-7, 0, '1e-07'],
  ])('%s with %i digits → %s', (x, prec, want) => {
    expect(goFormat(x, 'e', prec)).toBe(want);
  });
});
