/**
 * What every input must satisfy, for the mutation fuzzer and the regression replays: through
 * the framing reader and decodeMessage, the only exception ever thrown is a BgpError; a clean
 * decode (no errors, nothing discarded) re-encodes to a message that decodes equal; decoding with the attribute cache (miss, then hit) gives the same message as
 * without.
 */
import { isDeepStrictEqual } from 'node:util';
import { isBgpError } from '../../../src/errors.js';
import type { BgpMessage, PathAttributes } from '../../../src/types.js';
import { MessageReader, decodeMessage, encodeMessage, type CodecOptions, type MessageDecodeResult } from '../../../src/codec/index.js';
import { hex } from './helpers.js';

/** A broken contract, with the input that broke it. */
export class ContractViolation extends Error {
  override readonly name = 'ContractViolation';
}

/** Counts of what the inputs led to. */
export interface FuzzStats {
  inputs: number;
  frames: number;
  decoded: number;
  bgpErrors: number;
  roundTrips: number;
}

export function newStats(): FuzzStats {
  return { inputs: 0, frames: 0, decoded: 0, bgpErrors: 0, roundTrips: 0 };
}

/** Unknown attributes come back with the Partial bit set; compare with it set. */
function normalized(msg: BgpMessage): BgpMessage {
  if (msg.type !== 'update' || !msg.attributes?.unknown) return msg;
  const attributes: PathAttributes = { ...msg.attributes, unknown: msg.attributes.unknown.map((u) => ({ ...u, flags: (u.flags & 0xe0) | 0x20 })) };
  return { ...msg, attributes };
}

/**
 * A path with a confederation segment after an ordinary one (invalid, RFC 5065 §3) does not
 * survive a 2-octet round trip: AS4_PATH cannot carry confederation segments and the RFC 6793
 * §4.2.3 rebuild keeps only leading ones. Such paths are left out of the 2-octet check.
 */
function confedAfterOthers(msg: BgpMessage): boolean {
  if (msg.type !== 'update' || !msg.attributes?.asPath) return false;
  let ordinary = false;
  for (const s of msg.attributes.asPath) {
    if (s.type === 3 || s.type === 4) {
      if (ordinary) return true;
    } else ordinary = true;
  }
  return false;
}

function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_, v: unknown) => (v instanceof Uint8Array ? `hex:${hex(v)}` : v)));
}

function decodeOrBgpError(frame: Uint8Array, opts: CodecOptions, input: Uint8Array, stats: FuzzStats): MessageDecodeResult | undefined {
  try {
    return decodeMessage(frame, opts);
  } catch (err) {
    if (!isBgpError(err)) throw new ContractViolation(`decodeMessage threw ${String(err)} for ${hex(input)}`, { cause: err });
    stats.bgpErrors++;
    return undefined;
  }
}

/**
 * Runs one input. `variant` picks the session kind (bit 0: 2-octet AS), chunking (bits 1-2)
 * and attribute-cache checks (bit 3). Throws {@link ContractViolation} when a contract breaks.
 */
export function exercise(input: Uint8Array, variant: number, stats: FuzzStats): void {
  stats.inputs++;
  const opts: CodecOptions = { fourOctetAs: (variant & 1) === 0 };
  const reader = new MessageReader();
  const chunking = (variant >> 1) & 3;
  if (chunking === 0) reader.push(input);
  else {
    const step = chunking === 1 ? 1 : chunking === 2 ? 7 : 100;
    for (let i = 0; i < input.length; i += step) reader.push(input.subarray(i, i + step));
  }
  for (let guard = 0; guard < 10_000; guard++) {
    let frame: Uint8Array | undefined;
    try {
      frame = reader.next();
    } catch (err) {
      if (!isBgpError(err)) throw new ContractViolation(`MessageReader.next threw ${String(err)} for ${hex(input)}`, { cause: err });
      stats.bgpErrors++;
      return;
    }
    if (!frame) return;
    stats.frames++;
    const r = decodeOrBgpError(frame, opts, input, stats);
    if (!r) continue;
    stats.decoded++;
    for (const e of r.errors) if (!isBgpError(e)) throw new ContractViolation(`non-BgpError reported for ${hex(input)}`);
    if ((variant & 8) !== 0) {
      const cache = new Map<string, PathAttributes>();
      const cached = { ...opts, attributeCache: cache };
      const a = decodeOrBgpError(frame, cached, input, stats);
      const b = decodeOrBgpError(frame, cached, input, stats);
      for (const x of [a, b]) {
        if (!x || !isDeepStrictEqual(plain(x.message), plain(r.message)) || x.action !== r.action) {
          throw new ContractViolation(`decoding with the attribute cache differs for ${hex(frame)}`);
        }
      }
    }
    if (r.errors.length === 0 && r.discarded.length === 0 && (opts.fourOctetAs || !confedAfterOthers(r.message))) {
      let again: Uint8Array;
      try {
        again = encodeMessage(r.message, opts);
      } catch (err) {
        throw new ContractViolation(`a clean decode did not re-encode (${String(err)}) for ${hex(frame)}`, { cause: err });
      }
      const back = decodeOrBgpError(again, opts, input, stats);
      if (!back || !isDeepStrictEqual(plain(normalized(back.message)), plain(normalized(r.message)))) {
        throw new ContractViolation(`re-encoding changed the message for ${hex(frame)} → ${hex(again)}`);
      }
      stats.roundTrips++;
    }
  }
  throw new ContractViolation(`reader did not drain for ${hex(input)}`);
}
