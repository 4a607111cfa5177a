import { describe, expect, it } from 'vitest';
import { completions, kindWords } from '../src/index.js';

const names = (kind: string): Promise<string[]> => Promise.resolve(kind === 'bgppeer' ? ['peer-a', 'peer-b'] : []);

describe('completions', () => {
  it.each([
    [[], ['apply', 'completion', 'create', 'delete', 'get', 'label', 'patch', 'replace', 'version']],
    [['get'], kindWords()],
    [['get', 'bgppeer'], ['peer-a', 'peer-b']],
    [['get', '-o', 'wide', 'bgppeer'], ['peer-a', 'peer-b']],
    [['--store', '127.0.0.1:1', 'delete', 'bgppeer', 'peer-a'], ['peer-a', 'peer-b']],
    [['get', 'bgppeer', '-o'], ['ps', 'wide', 'yaml', 'json', 'name']],
    [['label', 'bgppeer', 'peer-a'], []],
    [['completion'], ['bash', 'zsh']],
    [['create', '-f'], []],
  ] as const)('after %j offers %j', async (before, expected) => {
    expect(await completions(before, names)).toEqual(expected);
  });

  it('offers one name per kind', () => {
    expect(kindWords()).toEqual(['bgpconfiguration', 'bgppeer', 'ippool', 'node', 'nodestatus', 'workloadendpoint']);
  });
});
