import { createConnection, type Socket } from 'node:net';

/**
 * A client for BIRD's control socket (what `birdc -s SOCK` speaks), over node:net.
 *
 * The protocol: on connect BIRD sends a greeting `0001 BIRD 2.0.12 ready.`. Each command is
 * one line. A reply is a run of lines `NNNN-text` (4-digit code, more to come) and
 * ` text` (a continuation of the previous code), ended by a line `NNNN text` (code and a
 * space). `0000` is plain OK; 8xxx are run-time errors and 9xxx parse errors.
 */

/** One line of a reply, its code carried over to continuation lines. */
export interface BirdReplyLine {
  readonly code: number;
  readonly text: string;
}

/** A whole reply to one command (or the greeting). */
export interface BirdReply {
  /** The code of the last line, which ends the reply: 0 OK, 8xxx/9xxx errors, others informative. */
  readonly code: number;
  /** Every line with text; a bare `0000 ` terminator is left out. */
  readonly lines: readonly BirdReplyLine[];
  /** The lines joined as birdc prints them. */
  readonly text: string;
}

/** BIRD answered a command with an 8xxx (run-time) or 9xxx (parse) error. */
export class BirdCommandError extends Error {
  override readonly name = 'BirdCommandError';
  constructor(
    readonly command: string,
    readonly code: number,
    readonly reply: string,
  ) {
    super(`birdc "${command}" failed with ${code}: ${reply}`);
  }
}

/** The control connection broke, timed out or carried something that is not the BIRD CLI protocol. */
export class BirdControlError extends Error {
  override readonly name = 'BirdControlError';
}

export function isBirdCommandError(e: unknown): e is BirdCommandError {
  return e instanceof BirdCommandError;
}

const LINE = /^(\d{4})([ -])(.*)$/;

/**
 * Splits the byte stream of a control connection into replies. Resumable: feed it any
 * chunking (one character at a time or many replies at once).
 */
export class BirdReplyReader {
  private partial = '';
  private lines: BirdReplyLine[] = [];
  private lastCode: number | undefined;

  /** Feeds text; returns the replies completed by it, in order. */
  push(chunk: string): BirdReply[] {
    this.partial += chunk;
    const done: BirdReply[] = [];
    for (;;) {
      const nl = this.partial.indexOf('\n');
      if (nl < 0) break;
      const line = this.partial.slice(0, nl);
      this.partial = this.partial.slice(nl + 1);
      const reply = this.line(line);
      if (reply) done.push(reply);
    }
    return done;
  }

  private line(line: string): BirdReply | undefined {
    const m = LINE.exec(line);
    if (m) {
      const code = Number(m[1]);
      const text = m[3];
      this.lastCode = code;
      const last = m[2] === ' ';
      if (!(last && code === 0 && text === '')) this.lines.push({ code, text });
      if (!last) return undefined;
      const lines = this.lines;
      this.lines = [];
      this.lastCode = undefined;
      return { code, lines, text: lines.map((l) => l.text).join('\n') };
    }
    if (line.startsWith(' ') && this.lastCode !== undefined) {
      this.lines.push({ code: this.lastCode, text: line.slice(1) });
      return undefined;
    }
    throw new BirdControlError(`unexpected line on the BIRD control socket: ${JSON.stringify(line)}`);
  }
}

interface Waiter {
  resolve(r: BirdReply): void;
  reject(e: Error): void;
}

/** One socket connection; replies are handed out in order. */
class BirdConnection {
  private readonly reader = new BirdReplyReader();
  private readonly replies: BirdReply[] = [];
  private readonly waiters: Waiter[] = [];
  private failure: Error | undefined;

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      try {
        for (const r of this.reader.push(chunk)) this.deliver(r);
      } catch (e) {
        this.fail(e instanceof Error ? e : new BirdControlError(String(e)));
      }
    });
    socket.on('error', (e) => this.fail(new BirdControlError(`BIRD control socket: ${e.message}`, { cause: e })));
    socket.on('close', () => this.fail(new BirdControlError('BIRD closed the control connection')));
  }

  get broken(): boolean {
    return this.failure !== undefined;
  }

  next(timeoutMs: number, what: string): Promise<BirdReply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<BirdReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new BirdControlError(`BIRD did not answer ${what} within ${timeoutMs} ms (is it stopped or paused?)`));
      }, timeoutMs);
      const w: Waiter = {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
      this.waiters.push(w);
    });
  }

  send(line: string): void {
    this.socket.write(`${line}\n`);
  }

  destroy(): void {
    this.fail(new BirdControlError('control connection closed by the client'));
  }

  private deliver(r: BirdReply): void {
    const w = this.waiters.shift();
    if (w) w.resolve(r);
    else this.replies.push(r);
  }

  private fail(e: Error): void {
    if (!this.failure) this.failure = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
    this.socket.destroy();
  }
}

/**
 * A birdc over node:net: commands run one at a time on one connection, which is opened on
 * first use and reopened after a timeout or a broken connection (so a late reply can never
 * be taken for the answer to the next command).
 */
export class BirdClient {
  private conn: BirdConnection | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** The greeting of the current connection, e.g. `BIRD 2.0.12 ready.`. */
  greeting = '';

  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 10_000,
  ) {}

  /** Runs a command; resolves with the reply, rejects with {@link BirdCommandError} on 8xxx/9xxx. */
  command(command: string, timeoutMs = this.timeoutMs): Promise<BirdReply> {
    if (/[\r\n]/.test(command)) throw new BirdControlError(`a BIRD command is one line: ${JSON.stringify(command)}`);
    const run = this.queue.then(() => this.run(command, timeoutMs));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the connection (commands after this open a new one). */
  close(): void {
    this.conn?.destroy();
    this.conn = undefined;
  }

  private async run(command: string, timeoutMs: number): Promise<BirdReply> {
    const conn = await this.connection(timeoutMs);
    conn.send(command);
    let reply: BirdReply;
    try {
      reply = await conn.next(timeoutMs, `"${command}"`);
    } catch (e) {
      this.close();
      throw e;
    }
    if (reply.code >= 8000) throw new BirdCommandError(command, reply.code, reply.text);
    return reply;
  }

  private async connection(timeoutMs: number): Promise<BirdConnection> {
    if (this.conn && !this.conn.broken) return this.conn;
    const socket = createConnection({ path: this.socketPath });
    const conn = new BirdConnection(socket);
    try {
      const hello = await conn.next(timeoutMs, 'the greeting');
      if (hello.code !== 1) throw new BirdControlError(`unexpected greeting on ${this.socketPath}: ${hello.code} ${hello.text}`);
      this.greeting = hello.text;
    } catch (e) {
      conn.destroy();
      throw e;
    }
    this.conn = conn;
    return conn;
  }
}
