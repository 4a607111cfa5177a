/**
 * Orders two strings by Unicode code point. This equals the byte order of
 * their UTF-8 encodings, which is how Calico (Go) sorts set literals; plain
 * `<` on JavaScript strings compares UTF-16 units and differs above U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const l = left.next();
    const r = right.next();
    if (l.done === true || r.done === true) {
      return (l.done === true ? 0 : 1) - (r.done === true ? 0 : 1);
    }
    const diff = (l.value.codePointAt(0) ?? 0) - (r.value.codePointAt(0) ?? 0);
    if (diff !== 0) {
      return diff;
    }
  }
}

/** Returns the values of a set literal sorted by code point, duplicates removed. */
export function normaliseSetValues(values: readonly string[]): readonly string[] {
  const sorted = [...values].sort(compareCodePoints);
  return sorted.filter((value, i) => i === 0 || value !== sorted[i - 1]);
}
