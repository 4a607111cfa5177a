import type { CliIO } from './io.js';

/** A progress bar on one line of stderr, redrawn in place. */
export interface Progress {
  update(done: number): void;
  /** Erases the bar (a terminal) or ends its line (a file or pipe), so stdout's summary stands alone. */
  finish(): void;
}

const WIDTH = 30;
const silent: Progress = { update: () => undefined, finish: () => undefined };

/**
 * A bar for `total` items, shown when stderr is a terminal or `forced` (--progress), else
 * nothing: scripts and tests that read stderr see only what calicoctl prints.
 */
export function progressBar(io: CliIO, total: number, what: string, forced: boolean): Progress {
  const tty = io.stderrIsTTY === true;
  if (total === 0 || (!tty && !forced)) return silent;
  let drawn = '';
  const draw = (done: number): void => {
    const filled = Math.round((WIDTH * done) / total);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} ${what}`;
    io.stderr(`\r${line}`);
    drawn = line;
  };
  draw(0);
  return {
    update: draw,
    finish: () => io.stderr(tty ? `\r${' '.repeat(drawn.length)}\r` : '\n'),
  };
}
