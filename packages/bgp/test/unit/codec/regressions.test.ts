/**
 * Replays every fuzz finding kept in regressions/ (one hex file each, `#` lines saying what it
 * exercised) through the same contract the fuzzer checks, on every session kind and chunking.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exercise, newStats } from './fuzz-harness.js';
import { readHexFile } from './helpers.js';

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'regressions');
const files = readdirSync(DIR).filter((n) => n.endsWith('.hex')).sort();

describe('fuzz regressions', () => {
  it('keeps at least one finding', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s', (name) => {
    const { bytes, notes } = readHexFile(path.join(DIR, name));
    expect(notes.length).toBeGreaterThan(0);
    const stats = newStats();
    for (let variant = 0; variant < 16; variant++) exercise(bytes, variant, stats);
    expect(stats.inputs).toBe(16);
  });
});
