/**
 * BGPFilter end to end through the real tabbyctl against a real store (issue 13): create,
 * apply, get (table, wide, yaml, json, aliases), validation with Calico's messages, BGPPeer
 * filters that must exist, deleting a filter a peer still names (allowed, as in Calico), and
 * fields Tabby does not implement refused with `not supported by Tabby`, the store unchanged.
 * Compared with golden/bgpfilter.txt (UPDATE_GOLDEN=1 rewrites).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessGroup, startService, tempDir } from '@tabby/harness';
import { Transcript } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-bgpfilter-');
let t: Transcript;

beforeAll(async () => {
  const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`]);
  t = new Transcript(dir.path, { TABBY_STORE_ADDR: store.address });
}, 30_000);

afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

const FILTERS = `apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: export-pools-only
spec:
  exportV4:
    - action: Accept
      matchOperator: In
      cidr: 10.0.0.0/16
    - action: Reject
  importV6:
    - action: Reject
      matchOperator: Equal
      cidr: "::/0"
---
apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: no-default-route
spec:
  importV4:
    - {action: Reject, matchOperator: Equal, cidr: 0.0.0.0/0}
    - {action: Accept, matchOperator: In, cidr: 10.0.0.1, prefixLength: {min: 24, max: 32}}
`;

const peer = (filters: string) => `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: tor
spec:
  peerIP: 192.0.2.1
  asNumber: 65001
  filters: [${filters}]
`;

it('creates, lists, validates, references and deletes BGPFilters as calicoctl does', async () => {
  expect((await t.run(['create', '-f', '-'], FILTERS, { note: 'create and list' })).code).toBe(0);
  expect((await t.run(['get', 'bgpfilters'])).code).toBe(0);
  expect((await t.run(['get', 'bf', 'no-default-route', '-o', 'wide'])).code).toBe(0);
  expect((await t.run(['get', 'bgpf', 'no-default-route', '-o', 'yaml'])).code).toBe(0);
  expect((await t.run(['get', 'bfs', '-o', 'json'])).code).toBe(0);
  expect((await t.run(['apply', '-f', '-'], FILTERS)).code).toBe(0);

  const bad = `apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: bad
spec:
  exportV4:
    - {cidr: 10.0.0.1/16, action: accept}
    - {matchOperator: NotIn, prefixLength: {max: 24}}
  exportV6:
    - {cidr: 10.0.0.0/8, matchOperator: In, action: Accept}
`;
  expect((await t.run(['create', '-f', '-'], bad, { note: "validation, with Calico's rule texts" })).code).toBe(1);
  expect((await t.run(['create', '-f', '-'], bad.replace('max: 24', 'max: 33'))).code).toBe(1);

  expect((await t.run(['create', '-f', '-'], peer('no-default-route, missing-a, missing-b'), { note: 'a BGPPeer names filters that must exist' })).code).toBe(1);
  expect((await t.run(['create', '-f', '-'], peer('no-default-route'))).code).toBe(0);
  expect((await t.run(['apply', '-f', '-'], peer('no-default-route, missing-a'))).code).toBe(1);
  expect((await t.run(['get', 'bgppeer', 'tor', '-o', 'yaml'])).code).toBe(0);
  expect((await t.run(['delete', 'bgpfilter', 'no-default-route'], undefined, { note: 'deleting a filter a peer still names is allowed, as in Calico' })).code).toBe(0);
  expect((await t.run(['get', 'bgpfilter'])).code).toBe(0);

  const refused = `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  asNumber: 64512
  ignoredInterfaces: [eth0, "docker*"]
  localWorkloadPeeringIPV4: 169.254.0.179
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: metallb
spec:
  localWorkloadSelector: app == 'metallb'
  asNumber: 65010
---
apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: import-by-interface
spec:
  importV4: [{interface: "eth*", action: Reject}]
`;
  expect((await t.run(['apply', '-f', '-'], refused, { note: 'fields Tabby does not implement are refused; nothing is stored' })).code).toBe(1);
  expect((await t.run(['get', 'bgpconfig'])).code).toBe(0);
  expect((await t.run(['get', 'bgppeer'])).code).toBe(0);
  expect((await t.run(['get', 'bgpfilter'])).code).toBe(0);

  const [actual, expected] = t.golden(new URL('../golden/bgpfilter.txt', import.meta.url).pathname);
  expect(actual).toBe(expected);
}, 120_000);
