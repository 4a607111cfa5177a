/**
 * Calico's AS number format (numorstring.ASNumber): a uint32 written as a number, as a
 * decimal string, or as dotted `X.Y` (each 0-65535, value X*65536+Y). Always printed back
 * as a plain decimal.
 */
export const MAX_AS_NUMBER = 4294967295;

/** Parses an AS number from a manifest value; returns the error text on failure. */
export function parseASNumber(value: unknown): { value: number } | { error: string } {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value <= MAX_AS_NUMBER) return { value };
    return { error: invalid(String(value)) };
  }
  if (typeof value === 'string') {
    if (/^\d+$/.test(value)) {
      const n = Number(value);
      if (n <= MAX_AS_NUMBER) return { value: n };
    }
    const dotted = /^(\d+)\.(\d+)$/.exec(value);
    if (dotted) {
      const hi = Number(dotted[1]);
      const lo = Number(dotted[2]);
      if (hi <= 65535 && lo <= 65535) return { value: hi * 65536 + lo };
    }
    return { error: invalid(value) };
  }
  return { error: invalid(JSON.stringify(value)) };
}

/** Calico's text (`invalid AS Number format (<s>)`) and what would be valid. */
function invalid(text: string): string {
  return `invalid AS Number format (${text}): must be a whole number from 0 to ${MAX_AS_NUMBER}, or X.Y with X and Y from 0 to 65535`;
}
