import { describe, expect, it } from 'vitest';
import { completions, kindWords } from '../src/index.js';

const NAMES: Record<string, string[]> = { bgppeer: ['peer-a', 'peer-b'], ippool: ['pool-a', 'pool-b'], node: ['node1'], nodestatus: ['node1', 'node7'] };
const names = (kind: string): Promise<string[]> => Promise.resolve(NAMES[kind] ?? []);
const workloads = (): Promise<string[]> => Promise.resolve(['default/web', 'kube-system/kube-dns']);

describe('completions', () => {
  it.each([
    [[], ['apply', 'completion', 'create', 'delete', 'get', 'ipam', 'label', 'node', 'patch', 'replace', 'topology', 'version', 'workload']],
    [['get'], kindWords()],
    [['get', 'bgppeer'], ['peer-a', 'peer-b']],
    [['get', '-o', 'wide', 'bgppeer'], ['peer-a', 'peer-b']],
    [['--store', '127.0.0.1:1', 'delete', 'bgppeer', 'peer-a'], ['peer-a', 'peer-b']],
    [['get', 'bgppeer', '-o'], ['ps', 'wide', 'yaml', 'json', 'name']],
    [['label', 'bgppeer', 'peer-a'], []],
    [['completion'], ['bash', 'zsh']],
    [['create', '-f'], []],
    [['delete', 'ippool'], ['pool-a', 'pool-b', '--force']],
    [['ipam'], ['check', 'configure', 'migrate', 'release', 'show']],
    [['--ipam', '127.0.0.1:1', 'ipam', 'show'], ['--ip', '--show-blocks', '--show-borrowed', '--show-configuration']],
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
    [['node'], ['routes', 'status']],
    [['node', 'status'], ['node1', 'node7', '--all', '--agent']],
    [['node', 'status', '--agent', '127.0.0.11:50054'], ['node1', 'node7', '--all']],
    [['node', 'status', 'node1'], ['--all', '--agent']],
    [['node', 'routes', 'node1', '--family'], ['ipv4', 'ipv6']],
    [['node', 'routes', 'node1', '-o'], ['ps', 'wide', 'json', 'yaml']],
    [['node', 'routes', 'node1', '--agent'], []],
    [['node', 'routes', 'node1', '--family', 'ipv4'], ['--agent', '--prefix', '-o']],
    [['topology'], ['check', 'explain', 'show']],
    [['topology', 'show'], ['node1', '-o']],
    [['topology', 'show', '-o'], ['table', 'json', 'dot']],
    [['--topology', '127.0.0.1:1', 'topology', 'explain'], ['node1']],
    [['topology', 'explain', 'node1'], ['node1']],
    [['topology', 'check'], []],
  ] as const)('after %j offers %j', async (before, expected) => {
    expect(await completions(before, names, workloads)).toEqual(expected);
  });

  it('offers one name per kind', () => {
    expect(kindWords()).toEqual(['bgpconfiguration', 'bgpfilter', 'bgppeer', 'ipamconfiguration', 'ippool', 'ipreservation', 'node', 'nodestatus', 'workloadendpoint']);
  });
});
