/**
 * Framing: turns TCP chunks of any size into whole BGP messages (RFC 4271 §4.1). The reader is
 * resumable: push chunks as they arrive and call {@link MessageReader.next} until it returns
 * undefined. Work is linear in the bytes pushed: a message lying inside one chunk is returned
 * as a view of it, one spanning chunks is copied once.
 */
import type { BgpError } from '../errors.js';
import { HEADER_LENGTH } from './constants.js';
import { checkHeader } from './header.js';

/**
 * Splits a byte stream into BGP messages and checks each header (marker, length, type). Once a
 * header check fails the reader stays failed: every later {@link next} throws the same error,
 * since the stream can no longer be framed (the session must close).
 *
 * Frames may be views of pushed chunks: do not modify a chunk after pushing it.
 */
export class MessageReader {
  private chunks: (Uint8Array | undefined)[] = [];
  private head = 0;
  private offset = 0;
  private buffered = 0;
  private pendingLength = 0;
  private failure: BgpError | undefined;
  private readonly headerScratch = new Uint8Array(HEADER_LENGTH);

  /** Octets pushed and not yet returned as messages. */
  get bufferedLength(): number {
    return this.buffered;
  }

  /** Appends a chunk of the stream. Empty chunks are ignored. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next whole message, header included, in arrival order; undefined until enough bytes
   * are buffered. Throws a {@link BgpError} (Message Header Error, session-reset) for a bad
   * header.
   */
  next(): Uint8Array | undefined {
    if (this.failure) throw this.failure;
    if (this.pendingLength === 0) {
      if (this.buffered < HEADER_LENGTH) return undefined;
      const first = this.chunks[this.head] as Uint8Array;
      let header: Uint8Array;
      let at: number;
      if (first.length - this.offset >= HEADER_LENGTH) {
        header = first;
        at = this.offset;
      } else {
        this.copyOut(this.headerScratch, HEADER_LENGTH);
        header = this.headerScratch;
        at = 0;
      }
      try {
        this.pendingLength = checkHeader(header, at).length;
      } catch (err) {
        this.failure = err as BgpError;
        throw err;
      }
    }
    const length = this.pendingLength;
    if (this.buffered < length) return undefined;
    this.pendingLength = 0;
    return this.take(length);
  }

  /** Copies the first `n` buffered octets into `out` without consuming them. */
  private copyOut(out: Uint8Array, n: number): void {
    let copied = 0;
    let i = this.head;
    let off = this.offset;
    while (copied < n) {
      const c = this.chunks[i] as Uint8Array;
      const take = Math.min(c.length - off, n - copied);
      out.set(c.subarray(off, off + take), copied);
      copied += take;
      i++;
      off = 0;
    }
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[this.head] as Uint8Array;
    let result: Uint8Array;
    if (first.length - this.offset >= n) {
      result = first.subarray(this.offset, this.offset + n);
      this.advance(n);
    } else {
      result = new Uint8Array(n);
      this.copyOut(result, n);
      this.advance(n);
    }
    return result;
  }

  private advance(n: number): void {
    this.buffered -= n;
    let left = n;
    while (left > 0) {
      const c = this.chunks[this.head] as Uint8Array;
      const avail = c.length - this.offset;
      if (avail > left) {
        this.offset += left;
        return;
      }
      left -= avail;
      this.chunks[this.head] = undefined;
      this.head++;
      this.offset = 0;
    }
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
