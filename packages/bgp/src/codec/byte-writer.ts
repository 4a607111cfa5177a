/** A growable big-endian byte buffer for encoders. */
export class ByteWriter {
  private buf: Uint8Array;
  private len = 0;

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(Math.max(16, initialSize));
  }

  /** Octets written so far. */
  get length(): number {
    return this.len;
  }

  private reserve(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(value: number): void {
    this.reserve(1);
    this.buf[this.len++] = value & 0xff;
  }

  u16(value: number): void {
    this.reserve(2);
    this.buf[this.len++] = (value >>> 8) & 0xff;
    this.buf[this.len++] = value & 0xff;
  }

  u32(value: number): void {
    this.reserve(4);
    this.buf[this.len++] = (value >>> 24) & 0xff;
    this.buf[this.len++] = (value >>> 16) & 0xff;
    this.buf[this.len++] = (value >>> 8) & 0xff;
    this.buf[this.len++] = value & 0xff;
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  /** Overwrites two octets already written at `offset` (for lengths known only later). */
  patchU16(offset: number, value: number): void {
    this.buf[offset] = (value >>> 8) & 0xff;
    this.buf[offset + 1] = value & 0xff;
  }

  /** Forgets what was written (the buffer is kept): one writer serves many messages. */
  reset(): void {
    this.len = 0;
  }

  /** A copy of the octets written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
