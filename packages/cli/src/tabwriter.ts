/**
 * Tables as Go's text/tabwriter lays out calicoctl's output (minwidth 5, padding 3, pad
 * character space): every cell, the last included, is padded to its column's width, which
 * is the widest cell plus 3, and at least 5.
 */
export const MIN_WIDTH = 5;
export const PADDING = 3;

/** Makes a cell safe to print: no tabs or line breaks that would break the table. */
export function sanitizeCell(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, ' ');
}

function width(text: string): number {
  return [...text].length;
}

/** Renders rows (the first is usually the header) as a tabwriter table; every line ends with "\n". */
export function tabwrite(rows: readonly (readonly string[])[]): string {
  const clean = rows.map((r) => r.map(sanitizeCell));
  const cols = Math.max(0, ...clean.map((r) => r.length));
  const widths: number[] = [];
  for (let c = 0; c < cols; c++) {
    let w = 0;
    for (const r of clean) if (c < r.length) w = Math.max(w, width(r[c]));
    widths.push(Math.max(MIN_WIDTH, w + PADDING));
  }
  return clean.map((r) => `${r.map((cell, c) => cell + ' '.repeat(widths[c] - width(cell))).join('')}\n`).join('');
}
