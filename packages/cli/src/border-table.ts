/**
 * Bordered tables as calicoctl v3 prints them with olekukonko/tablewriter's defaults
 * (`ipam show`, `node status`): `+`/`-`/`|` borders, headings upper-cased and centred,
 * cells that look like decimal numbers right-aligned and all others left-aligned, and cells
 * wider than 30 columns wrapped at spaces with minimal raggedness.
 */
import { sanitizeCell } from './tabwriter.js';

/** tablewriter's MAX_ROW_WIDTH: wider cells are wrapped at spaces. */
export const WRAP_WIDTH = 30;
const DECIMAL = /^-?(?:\d{1,3}(?:,\d{3})*|\d+)(?:\.\d+)?$/;
const PENALTY = 1e5;

function width(text: string): number {
  return [...text].length;
}

/** tablewriter's heading format: `_` (and `.` between non-digits) become spaces, trimmed, upper case. */
function title(name: string): string {
  const rs = [...name];
  const numOrSpace = (c: string | undefined): boolean => c !== undefined && /[0-9 ]/.test(c);
  for (let i = 0; i < rs.length; i++) {
    if (rs[i] === '_') rs[i] = ' ';
    else if (rs[i] === '.' && ((i !== 0 && !numOrSpace(rs[i - 1])) || (i !== rs.length - 1 && !numOrSpace(rs[i + 1])))) rs[i] = ' ';
  }
  const t = rs.join('').trim();
  return (t.length === 0 && name.length > 0 ? ' ' : t).toUpperCase();
}

/** Minimum-raggedness line breaking (tablewriter's WrapWords). */
function wrapWords(words: readonly string[], lim: number): string[][] {
  const n = words.length;
  const len: number[][] = [];
  for (let i = 0; i < n; i++) {
    len.push(new Array<number>(n).fill(0));
    len[i][i] = width(words[i]);
    for (let j = i + 1; j < n; j++) len[i][j] = len[i][j - 1] + 1 + width(words[j]);
  }
  const next = new Array<number>(n).fill(0);
  const cost = new Array<number>(n).fill(2 ** 31 - 1);
  for (let i = n - 1; i >= 0; i--) {
    if (len[i][n - 1] <= lim) {
      cost[i] = 0;
      next[i] = n;
      continue;
    }
    for (let j = i + 1; j < n; j++) {
      const d = lim - len[i][j - 1];
      let c = d * d + cost[j];
      if (len[i][j - 1] > lim) c += PENALTY;
      if (c < cost[i]) {
        cost[i] = c;
        next[i] = j;
      }
    }
  }
  const lines: string[][] = [];
  for (let i = 0; i < n; i = next[i]) lines.push(words.slice(i, next[i]));
  return lines;
}

/** A cell laid out: its lines, and the width it claims for its column. */
interface Cell {
  readonly lines: string[];
  readonly width: number;
}

/**
 * tablewriter's parseDimension: a cell wider than 30 is wrapped at spaces, and claims
 * min(its unwrapped width, 30) even when its wrapped lines are narrower.
 */
function layoutCell(text: string): Cell {
  const raw = text.split('\n');
  let max = Math.max(0, ...raw.map(width));
  if (max > WRAP_WIDTH) max = WRAP_WIDTH;
  const words = raw.join(' ').split(' ');
  const lim = Math.max(max, ...words.map(width));
  const lines = wrapWords(words, lim).map((l) => l.join(' '));
  return { lines, width: Math.max(max, ...lines.map(width)) };
}

const padRight = (s: string, w: number): string => s + ' '.repeat(Math.max(0, w - width(s)));
const padLeft = (s: string, w: number): string => ' '.repeat(Math.max(0, w - width(s))) + s;
function center(s: string, w: number): string {
  const gap = w - width(s);
  if (gap <= 0) return s;
  const left = Math.floor(gap / 2);
  return ' '.repeat(left) + s + ' '.repeat(gap - left);
}

/**
 * Renders a header and rows as tablewriter does by default; every line ends with "\n".
 * Cells are sanitized (no control characters) before layout.
 */
export function borderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const headCells = header.map((h) => layoutCell(sanitizeCell(h)));
  const bodyCells = rows.map((r) => r.map((c) => layoutCell(sanitizeCell(c))));
  const widths = headCells.map((c) => c.width);
  for (const r of bodyCells) r.forEach((cell, c) => (widths[c] = Math.max(widths[c] ?? 0, cell.width)));
  const head = headCells.map((c) => c.lines);
  const body = bodyCells.map((r) => r.map((c) => c.lines));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+\n`;
  let out = rule;
  const headHeight = Math.max(...head.map((l) => l.length));
  for (let x = 0; x < headHeight; x++) out += `|${widths.map((w, c) => ` ${center(title(head[c]?.[x] ?? ''), w)} `).join('|')}|\n`;
  out += rule;
  for (const r of body) {
    const height = Math.max(...r.map((l) => l.length));
    for (let x = 0; x < height; x++) {
      out += `|${r
        .map((lines, c) => {
          const s = lines[x] ?? '  ';
          return ` ${DECIMAL.test(s.trim()) ? padLeft(s, widths[c]) : padRight(s, widths[c])} `;
        })
        .join('|')}|\n`;
    }
  }
  return out + rule;
}
