import { Writable } from 'node:stream';

/** A pino destination for tests: the raw JSON lines written so far, and the same parsed. */
export function logSink(): { stream: Writable; raw: () => string[]; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const raw = (): string[] =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l !== '');
  return { stream, raw, lines: () => raw().map((l) => JSON.parse(l) as Record<string, unknown>) };
}
