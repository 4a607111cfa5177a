import { describe, expect, it } from 'vitest';
import { completions, kindWords } from '../src/index.js';

const NAMES: Record<string, string[]> = { bgppeer: ['peer-a', 'peer-b'], ippool: ['pool-a', 'pool-b'], node: ['node1'] };
const names = (kind: string): Promise<string[]> => Promise.resolve(NAMES[kind] ?? []);
const workloads = (): Promise<string[]> => Promise.resolve(['default/web', 'kube-system/kube-dns']);

describe('completions', () => {
  it.each([
    [[], ['apply', 'completion', 'create', 'delete', 'get', 'ipam', 'label', 'patch', 'replace', 'version', 'workload']],
    [['get'], kindWords()],
    [['get', 'bgppeer'], ['peer-a', 'peer-b']],
    [['get', '-o', 'wide', 'bgppeer'], ['peer-a', 'peer-b']],
    [['--store', '127.0.0.1:1', 'delete', 'bgppeer', 'peer-a'], ['peer-a', 'peer-b']],
    [['get', 'bgppeer', '-o'], ['ps', 'wide', 'yaml', 'json', 'name']],
    [['label', 'bgppeer', 'peer-a'], []],
    [['completion'], ['bash', 'zsh']],
    [['create', '-f'], []],
    [['delete', 'ippool'], ['pool-a', 'pool-b', '--force']],
    [['ipam'], ['check', 'migrate', 'release', 'show']],
    [['--ipam', '127.0.0.1:1', 'ipam', 'show'], ['--ip', '--show-blocks', '--show-borrowed']],
    [['ipam', 'show', '--ip'], []],
    [['ipam', 'check', '-o'], []],
    [['ipam', 'migrate', '--from'], ['pool-a', 'pool-b']],
    [['ipam', 'migrate', '--from', 'pool-a', '--wait'], ['--to', '--timeout', '--interval']],
    [['workload'], ['add', 'delete']],
    [['workload', 'add'], []],
    [['workload', 'add', 'default/web', '-l', 'a=b'], ['--node', '-l', '--ipv6', '--no-ipv4', '--pool']],
    [['workload', 'add', 'default/web', '--node'], ['node1']],
    [['workload', 'add', 'default/web', '--pool'], ['pool-a', 'pool-b']],
    [['workload', 'delete'], ['default/web', 'kube-system/kube-dns']],
  ] as const)('after %j offers %j', async (before, expected) => {
    expect(await completions(before, names, workloads)).toEqual(expected);
  });

  it('offers one name per kind', () => {
    expect(kindWords()).toEqual(['bgpconfiguration', 'bgppeer', 'ippool', 'node', 'nodestatus', 'workloadendpoint']);
  });
});
