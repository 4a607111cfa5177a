/**
 * The figures a bench reports for the one table `npm run bench` prints and writes to
 * bench/RESULTS.md (bench/run.mjs). A bench calls `report()` once per row; when run by
 * run.mjs (BENCH_RESULTS names a file) each row is appended to that file as one JSON line,
 * otherwise it is only printed. A row names what was measured, Tabby's figure, the anchor's
 * figure from the same run (BIRD, etcd, or none), whether lower or higher is better, and the
 * issue's goal as a ratio (or an absolute target when there is no anchor).
 */
import { appendFileSync } from 'node:fs';

export interface ResultRow {
  /** The bench that measured it (its name in run.mjs). */
  readonly bench: string;
  /** What was measured, e.g. "ingest 1M IPv4 /24s (100k attribute sets), raw sender". */
  readonly measure: string;
  /** The unit of both figures, e.g. "s", "ms", "B/route", "µs/op", "ops/s". */
  readonly unit: string;
  readonly tabby: number;
  /** The anchor measured in the same run: its name and figure. */
  readonly anchor?: { readonly name: string; readonly value: number };
  /** 'lower' for times, bytes and CPU; 'higher' for rates. */
  readonly better: 'lower' | 'higher';
  /**
   * The goal: with an anchor, the ratio tabby/anchor to reach (≤ for 'lower', ≥ for 'higher');
   * without one, the absolute figure to reach.
   */
  readonly goal?: number;
}

/** tabby/anchor, or undefined when there is no anchor. */
export function ratioOf(row: ResultRow): number | undefined {
  if (!row.anchor || row.anchor.value === 0) return undefined;
  return row.tabby / row.anchor.value;
}

/** Whether the row meets its goal (undefined when it names none). */
export function meetsGoal(row: ResultRow): boolean | undefined {
  if (row.goal === undefined) return undefined;
  const x = row.anchor ? ratioOf(row) : row.tabby;
  if (x === undefined) return undefined;
  return row.better === 'lower' ? x <= row.goal : x >= row.goal;
}

/** Records one row: printed as a line, and appended to $BENCH_RESULTS when run.mjs set it. */
export function report(row: ResultRow): void {
  const ratio = ratioOf(row);
  const anchor = row.anchor ? ` | ${row.anchor.name} ${figure(row.anchor.value)} ${row.unit} | ratio ${ratio === undefined ? '—' : ratio.toFixed(2)}` : '';
  const met = meetsGoal(row);
  process.stdout.write(`RESULT ${row.measure}: tabby ${figure(row.tabby)} ${row.unit}${anchor}${met === undefined ? '' : met ? ' (goal met)' : ' (goal not met)'}\n`);
  const file = process.env.BENCH_RESULTS;
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

/** A figure with sensible precision: 3 significant digits below 1,000, grouped thousands above. */
export function figure(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

/** The Markdown table of rows: bench, measure, Tabby, anchor, ratio, goal and whether it is met. */
export function resultsTable(rows: readonly ResultRow[]): string {
  const lines = ['| bench | measure | Tabby | anchor | ratio | goal | met |', '|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const ratio = ratioOf(r);
    const cmp = r.better === 'lower' ? '≤' : '≥';
    const goal = r.goal === undefined ? '—' : r.anchor ? `${cmp} ${r.goal}×` : `${cmp} ${figure(r.goal)} ${r.unit}`;
    const met = meetsGoal(r);
    const anchor = r.anchor ? `${r.anchor.name} ${figure(r.anchor.value)} ${r.unit}` : '—';
    lines.push(`| ${r.bench} | ${r.measure} | ${figure(r.tabby)} ${r.unit} | ${anchor} | ${ratio === undefined ? '—' : `${ratio.toFixed(2)}×`} | ${goal} | ${met === undefined ? '—' : met ? 'yes' : '**no**'} |`);
  }
  if (rows.length === 0) lines.push('| — | no bench reported a figure | | | | | |');
  return `${lines.join('\n')}\n`;
}
