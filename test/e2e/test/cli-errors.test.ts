/**
 * tabbyctl's errors, messages and exit codes through the real binary against a real store:
 * bad YAML, unknown kind, unknown flag, validation errors from the store, missing resources,
 * partial failures with document positions, stale resourceVersions, a store that is down.
 * Compared with golden/cli-errors.txt and golden/cli-help.txt (UPDATE_GOLDEN=1 rewrites).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessGroup, startService, tempDir, walkthroughManifest } from '@tabby/harness';
import { Transcript } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-cli-errors-');
let t: Transcript;

beforeAll(async () => {
  const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`]);
  t = new Transcript(dir.path, { TABBY_STORE_ADDR: store.address });
}, 30_000);

afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

function file(name: string, text: string): string {
  writeFileSync(path.join(dir.path, name), text);
  return name;
}

it('reports every failure with a message a user can act on, and a non-zero exit', async () => {
  // Reading input
  const badYaml = file('bad.yaml', 'apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: [oops\nspec: {}\n');
  expect((await t.run(['create', '-f', badYaml], undefined, { note: 'YAML that does not parse: file, document, line and column' })).code).toBe(1);
  const unquoted = file('rr.yaml', 'kind: BGPPeer\napiVersion: projectcalico.org/v3\nmetadata:\n  name: peer-to-rrs\nspec:\n  nodeSelector: !has(i-am-a-route-reflector)\n  peerSelector: has(i-am-a-route-reflector)\n');
  expect((await t.run(['apply', '-f', unquoted], undefined, { note: 'the walkthrough as the notes write it: an unquoted ! selector' })).code).toBe(1);
  expect((await t.run(['create', '-f', file('typo.yaml', 'apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: p\nspec:\n  peerIp: 10.0.0.1\n')])).code).toBe(1);
  expect((await t.run(['create', '-f', file('kind.yaml', 'apiVersion: projectcalico.org/v3\nkind: IpPool\nmetadata:\n  name: p\n')])).code).toBe(1);
  expect((await t.run(['create', '-f', file('version.yaml', 'apiVersion: projectcalico.org/v2\nkind: IPPool\nmetadata:\n  name: p\n')])).code).toBe(1);
  expect((await t.run(['create', '-f', file('empty.yaml', '---\n')])).code).toBe(1);
  expect((await t.run(['create', '-f', 'empty.yaml', '--skip-empty'])).code).toBe(0);
  expect((await t.run(['create', '-f', 'missing.yaml'])).code).toBe(1);

  // The command line
  expect((await t.run(['get', 'frobnicators'], undefined, { note: 'unknown kind, unknown flag, unknown command, bad -o' })).code).toBe(1);
  expect((await t.run(['delete', 'frobnicator', 'x'])).code).toBe(1);
  expect((await t.run(['get', 'bgppeers', '--frobnicate'])).code).toBe(1);
  expect((await t.run(['frobnicate'])).code).toBe(1);
  expect((await t.run(['get', 'ippool', '-o', 'table'])).code).toBe(1);
  expect((await t.run(['create'])).code).toBe(1);
  expect((await t.run(['get', 'wep', '-n', 'kube-system', '-A'])).code).toBe(1);
  expect((await t.run(['get', 'ippool', '-n', 'kube-system'])).code).toBe(1);
  expect((await t.run(['get', 'wep', 'x', '-A'])).code).toBe(1);

  // Validation errors come from the store, with Calico's texts
  expect((await t.run(['create', '-f', '-'], walkthroughManifest('6. new-pool'), { note: 'validation errors from the store' })).code).toBe(0);
  const bad = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: bad-pool
spec:
  cidr: 10.0.1.1/16
  ipipMode: Always
  vxlanMode: Always
  blockSize: 40
`;
  expect((await t.run(['create', '-f', '-'], bad)).code).toBe(1);
  expect((await t.run(['create', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: overlap\nspec:\n  cidr: 10.0.128.0/17\n')).code).toBe(1);
  expect(
    (await t.run(['create', '-f', '-'], 'apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata:\n  name: both\nspec:\n  peerIP: 10.0.0.1\n  peerSelector: "rack =="\n  asNumber: 64512\n')).code,
  ).toBe(1);

  // Partial failures name the documents that failed
  const multi = `${walkthroughManifest('2. global BGP peer')}---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: Bad_Name
spec:
  peerIP: 10.0.0.2
---
${walkthroughManifest('3. node-specific BGP peer')}`;
  expect((await t.run(['create', '-f', file('peers.yaml', multi)], undefined, { note: 'three documents, the second invalid' })).code).toBe(1);
  expect((await t.run(['create', '-f', 'peers.yaml'])).code).toBe(1);
  expect((await t.run(['create', '-f', 'peers.yaml', '--skip-exists'])).code).toBe(1);
  expect((await t.run(['delete', '-f', 'peers.yaml'])).code).toBe(1);
  expect((await t.run(['delete', 'bgppeer', 'bgppeer-global-3040'], undefined, { note: 'missing resources' })).code).toBe(1);
  expect((await t.run(['delete', 'bgppeer', 'bgppeer-global-3040', '--skip-not-exists'])).code).toBe(0);
  expect((await t.run(['get', 'bgppeer', 'nope', 'bgppeer-node-aabbff'])).code).toBe(1);
  expect((await t.run(['replace', '-f', '-'], walkthroughManifest('2. global BGP peer'))).code).toBe(1);

  // resourceVersion: a stale replace fails; --export output re-applies anywhere
  expect((await t.run(['get', 'ippool', 'new-pool', '-o', 'yaml'], undefined, { redirect: 'pool-rv.yaml', note: 'a replace with a stale resourceVersion' })).code).toBe(0);
  expect((await t.run(['patch', 'ippool', 'new-pool', '-p', '{"spec":{"natOutgoing":false}}'])).code).toBe(0);
  expect((await t.run(['replace', '-f', 'pool-rv.yaml'])).code).toBe(1);
  expect((await t.run(['apply', '-f', 'pool-rv.yaml'])).code).toBe(1);
  expect((await t.run(['patch', 'ippool', 'new-pool', '-p', '{"spec":{"cidr":"10.1.0.0/16"}}'])).code).toBe(1);
  expect((await t.run(['patch', 'ippool', 'new-pool', '-p', '{"spec":{"natOutgoin":true}}'])).code).toBe(1);
  expect((await t.run(['patch', 'ippool', 'nope', '-p', '{}'])).code).toBe(1);

  // Labels
  expect((await t.run(['label', 'ippool', 'new-pool', 'tier=gold'], undefined, { note: 'labels' })).code).toBe(0);
  expect((await t.run(['label', 'ippool', 'new-pool', 'tier=silver'])).code).toBe(1);
  expect((await t.run(['label', 'ippool', 'new-pool', 'tier=silver', '--overwrite'])).code).toBe(0);
  expect((await t.run(['get', 'ippool', '-l', 'tier == "silver"', '-o', 'name'])).code).toBe(0);
  expect((await t.run(['label', 'ippool', 'new-pool', 'tier', '--remove'])).code).toBe(0);
  expect((await t.run(['label', 'ippool', 'new-pool', 'tier', '--remove'])).code).toBe(1);
  expect((await t.run(['label', 'pool', 'nope', 'a=b'])).code).toBe(1);
  expect((await t.run(['label', 'pool', 'new-pool', 'a b'])).code).toBe(1);

  // JSON and YAML output go back through apply
  expect((await t.run(['get', 'ippool', 'new-pool', '-o', 'json'], undefined, { redirect: 'pool.json', note: 'output round-trips through apply' })).code).toBe(0);
  expect((await t.run(['apply', '-f', 'pool.json'])).code).toBe(0);
  expect((await t.run(['get', 'ippools', '-o', 'yaml'], undefined, { redirect: 'pools.yaml' })).code).toBe(0);
  expect((await t.run(['apply', '-f', 'pools.yaml'])).code).toBe(0);
  expect((await t.run(['get', 'ippool', 'new-pool', '--export', '-o', 'json'])).code).toBe(0);

  // A store that is down
  const down = new Transcript(dir.path, { TABBY_STORE_ADDR: '127.0.0.1:1' });
  expect((await down.run(['get', 'ippool'], undefined, { note: 'the store is down' })).code).toBe(1);
  expect((await down.run(['create', '-f', 'peers.yaml'])).code).toBe(1);
  expect((await down.run(['version'])).code).toBe(1);
  expect((await down.run(['version', '--client'])).code).toBe(0);

  const [actual, expected] = t.golden(new URL('../golden/cli-errors.txt', import.meta.url).pathname);
  expect(actual).toBe(expected);
  const [downActual, downExpected] = down.golden(new URL('../golden/cli-store-down.txt', import.meta.url).pathname);
  expect(downActual).toBe(downExpected);
}, 120_000);

it('explains itself: --help for the program and every verb, with examples', async () => {
  const h = new Transcript(dir.path, {});
  const groups = ['ipam', 'ipam show', 'ipam configure', 'ipam check', 'ipam release', 'ipam split', 'ipam migrate', 'workload', 'workload add', 'workload delete', 'node', 'node status', 'node routes', 'topology', 'topology show', 'topology explain', 'topology check', 'datastore', 'datastore status', 'datastore migrate', 'datastore migrate lock', 'datastore migrate unlock', 'datastore migrate export', 'datastore migrate import'];
  for (const args of [
    ['--help'],
    ...['create', 'apply', 'replace', 'delete', 'get', 'patch', 'label', 'validate', 'version', 'health', 'completion'].map((v) => [v, '--help']),
    ...groups.map((g) => [...g.split(' '), '--help']),
  ]) {
    const r = await h.run(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
  }
  const [actual, expected] = h.golden(new URL('../golden/cli-help.txt', import.meta.url).pathname);
  expect(actual).toBe(expected);
}, 240_000);
