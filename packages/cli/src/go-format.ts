/**
 * Go's `fmt` verbs for float64 (`%.5g`, `%.f`, `%e`), digit for digit, so numbers print as
 * calicoctl prints them: `65536`, `1.2089e+24`, `0`, `1e+05`. Follows Go's strconv: the
 * exact decimal value of the double is rounded to the precision, halfway cases to even,
 * trailing zeros dropped for %g; `%e` exponents have at least two digits.
 */

/** A decimal number as Go's strconv keeps it: digits (no trailing zeros) and the point position. */
interface Decimal {
  /** Significant digits, no leading or trailing zeros; empty for zero. */
  d: string;
  /** Position of the decimal point: value = 0.d × 10^dp. */
  dp: number;
}

/** The exact decimal value of a finite, non-negative double. */
function exactDecimal(x: number): Decimal {
  if (x === 0) return { d: '', dp: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (biased === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = biased - 1075;
  }
  let digits: string;
  let dp: number;
  if (exp >= 0) {
    digits = (mant << BigInt(exp)).toString();
    dp = digits.length;
  } else {
    // mant / 2^k = mant × 5^k / 10^k
    const k = -exp;
    digits = (mant * 5n ** BigInt(k)).toString();
    dp = digits.length - k;
  }
  return { d: digits.replace(/0+$/, ''), dp };
}

/** Go's decimal.Round(nd): keep `nd` digits, halfway cases to even. */
function round(a: Decimal, nd: number): Decimal {
  if (nd < 0 || nd >= a.d.length) return a;
  let up: boolean;
  if (a.d[nd] === '5' && nd + 1 === a.d.length) up = nd > 0 && (a.d.charCodeAt(nd - 1) - 48) % 2 === 1;
  else up = a.d[nd] >= '5';
  if (!up) return { d: a.d.slice(0, nd).replace(/0+$/, ''), dp: a.dp };
  for (let i = nd - 1; i >= 0; i--) {
    if (a.d[i] < '9') return { d: a.d.slice(0, i) + String.fromCharCode(a.d.charCodeAt(i) + 1), dp: a.dp };
  }
  // All nines (or nothing kept): becomes a single 1 one place further left.
  return { d: '1', dp: a.dp + 1 };
}

/** %e: d.ddde±dd with `prec` digits after the point. */
function fmtE(a: Decimal, prec: number): string {
  let out = a.d.length > 0 ? a.d[0] : '0';
  if (prec > 0) {
    out += '.';
    const more = a.d.slice(1, Math.min(a.d.length, prec + 1));
    out += more + '0'.repeat(prec - more.length);
  }
  const exp = a.d.length === 0 ? 0 : a.dp - 1;
  const abs = Math.abs(exp);
  return `${out}e${exp < 0 ? '-' : '+'}${abs < 10 ? `0${abs}` : String(abs)}`;
}

/** %f: ddd.ddd with `prec` digits after the point. */
function fmtF(a: Decimal, prec: number): string {
  let out = '';
  if (a.dp > 0) {
    out = a.d.slice(0, Math.min(a.d.length, a.dp));
    out += '0'.repeat(a.dp - out.length);
  } else out = '0';
  if (prec > 0) {
    out += '.';
    for (let i = 1; i <= prec; i++) {
      const j = a.dp + i - 1;
      out += j >= 0 && j < a.d.length ? a.d[j] : '0';
    }
  }
  return out;
}

/**
 * `fmt.Sprintf("%.<prec><verb>", x)` for verb `g`, `f` or `e`: e.g. goFormat(65536, 'g', 5)
 * is `65536`, goFormat(2 ** 80, 'g', 5) is `1.2089e+24`, goFormat(12.5, 'f', 0) is `12`.
 */
export function goFormat(x: number, verb: 'g' | 'f' | 'e', prec: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  const sign = neg ? '-' : '';
  const exact = exactDecimal(Math.abs(x));
  switch (verb) {
    case 'e':
      return sign + fmtE(round(exact, prec + 1), prec);
    case 'f':
      return sign + fmtF(round(exact, exact.dp + prec), prec);
    case 'g': {
      let p = prec === 0 ? 1 : prec;
      const digs = round(exact, p);
      let eprec = p;
      if (eprec > digs.d.length && digs.d.length >= digs.dp) eprec = digs.d.length;
      const exp = digs.dp - 1;
      if (exp < -4 || exp >= eprec) {
        if (p > digs.d.length) p = digs.d.length;
        return sign + fmtE(digs, p - 1);
      }
      if (p > digs.dp) p = digs.d.length;
      return sign + fmtF(digs, Math.max(p - digs.dp, 0));
    }
  }
}
