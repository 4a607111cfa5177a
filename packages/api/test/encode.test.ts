import { describe, expect, it } from 'vitest';
import { cloneResource, decodeResource, encodeResource, kindOf, parseManifest, prepareResource, toJSON, toListObject, toManifestObject, toYAML } from '../src/index.js';
import { parseAll, parseOne } from './helpers.js';
import { WALKTHROUGH } from '@tabby/harness';

const v3 = 'projectcalico.org/v3';

describe('toManifestObject leaves out zero values but keeps set presence fields', () => {
  it.each([
    [
      'mesh off, AS 0 and listen port 0 are printed',
      'BGPConfiguration',
      '{nodeToNodeMeshEnabled: false, asNumber: 0, listenPort: 0, logSeverityScreen: ""}',
      { nodeToNodeMeshEnabled: false, asNumber: 0, listenPort: 0 },
    ],
    ['unset presence fields are not', 'BGPConfiguration', '{}', {}],
    [
      'disabled: false is printed, natOutgoing: false, blockSize: 0 and an empty list are not',
      'IPPool',
      '{cidr: 10.0.0.0/16, disabled: false, natOutgoing: false, blockSize: 0, allowedUses: []}',
      { cidr: '10.0.0.0/16', disabled: false },
    ],
    [
      'peer optionals set to 0 are printed, false and empty lists are not',
      'BGPPeer',
      '{peerIP: 10.0.0.1, ttlSecurity: 0, numAllowedLocalASNumbers: 0, localASNumber: 0, keepOriginalNextHop: false, filters: []}',
      { peerIP: '10.0.0.1', ttlSecurity: 0, numAllowedLocalASNumbers: 0, localASNumber: 0 },
    ],
    ['a node AS of 0 inside bgp is printed', 'Node', '{bgp: {asNumber: 0}}', { bgp: { asNumber: 0 } }],
  ])('%s (%s)', (_name, kind, spec, want) => {
    const r = parseOne(`apiVersion: ${v3}\nkind: ${kind}\nmetadata: {name: x, labels: {}}\nspec: ${spec}\n`).resource;
    expect(toManifestObject(r)).toEqual({ apiVersion: v3, kind, metadata: { name: 'x' }, spec: want });
  });

  it('prints a status only when something in it is set', () => {
    const node = (status: string) => toManifestObject(parseOne(`apiVersion: ${v3}\nkind: Node\nmetadata: {name: n}\n${status}`).resource);
    expect([node(''), node('status: {}\n'), node('status: {podCIDRs: [10.244.1.0/24]}\n')]).toEqual([
      { apiVersion: v3, kind: 'Node', metadata: { name: 'n' }, spec: {} },
      { apiVersion: v3, kind: 'Node', metadata: { name: 'n' }, spec: {} },
      { apiVersion: v3, kind: 'Node', metadata: { name: 'n' }, spec: {}, status: { podCIDRs: ['10.244.1.0/24'] } },
    ]);
  });
});

describe('export', () => {
  const text = `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: node1-k8s-nginx-eth0
  namespace: default
  uid: 0f2b7c1e-5d8a-4c1e-9d53-1f0e8b8f9a11
  resourceVersion: "17"
  creationTimestamp: "2024-05-01T10:00:00Z"
  labels:
    app: nginx
  annotations:
    note: x
  finalizers:
  - example.com/holder
spec:
  node: node1
  orchestrator: k8s
  pod: nginx
  endpoint: eth0
  interfaceName: cali0ef24b1a1d1
`;
  const r = parseOne(text).resource;

  it('drops uid, resourceVersion, creationTimestamp, namespace and finalizers, and keeps the rest', () => {
    expect(toManifestObject(r, { export: true }).metadata).toEqual({ name: 'node1-k8s-nginx-eth0', labels: { app: 'nginx' }, annotations: { note: 'x' } });
  });

  it('keeps them all without export', () => {
    expect(toManifestObject(r).metadata).toEqual({
      name: 'node1-k8s-nginx-eth0',
      namespace: 'default',
      uid: '0f2b7c1e-5d8a-4c1e-9d53-1f0e8b8f9a11',
      resourceVersion: '17',
      creationTimestamp: '2024-05-01T10:00:00Z',
      labels: { app: 'nginx' },
      annotations: { note: 'x' },
      finalizers: ['example.com/holder'],
    });
    expect(toYAML(toManifestObject(r))).toContain('  finalizers:\n  - example.com/holder\n');
  });

  it('of a list leaves out the list revision', () => {
    expect(toListObject('WorkloadEndpointList', [r], '42', { export: true }).metadata).toEqual({});
    expect(toListObject('WorkloadEndpointList', [r], '42').metadata).toEqual({ resourceVersion: '42' });
  });
});

describe('text output', () => {
  const pool = prepareResource(parseOne(WALKTHROUGH.find((m) => m.flow === '6. new-pool')!.text).resource, { op: 'create' }).resource;
  const node = parseOne(WALKTHROUGH.find((m) => m.flow.startsWith('5. route reflector node'))!.text).resource;

  it('prints YAML with keys sorted at every level', () => {
    expect(toYAML(toManifestObject(pool))).toBe(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: new-pool
spec:
  allowedUses:
  - Workload
  - Tunnel
  assignmentMode: Automatic
  blockSize: 26
  cidr: 10.0.0.0/16
  ipipMode: Always
  natOutgoing: true
  nodeSelector: all()
  vxlanMode: Never
`);
  });

  it('quotes strings YAML would read as something else', () => {
    expect(toYAML(toManifestObject(node))).toBe(`apiVersion: projectcalico.org/v3
kind: Node
metadata:
  labels:
    i-am-a-route-reflector: "true"
  name: node1
spec:
  bgp:
    ipv4Address: 172.17.8.101/24
    routeReflectorClusterID: 224.0.0.1
`);
    const rr = parseOne(WALKTHROUGH.find((m) => m.flow === '5. peer-to-rrs')!.text).resource;
    expect(toYAML(toManifestObject(rr))).toContain('  nodeSelector: "!has(i-am-a-route-reflector)"\n');
  });

  it('sorts label keys', () => {
    const r = parseOne('apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: n\n  labels: {zone: a, rack: b, app: c}\n').resource;
    expect(Object.keys(toManifestObject(r).metadata as object)).toEqual(['name', 'labels']);
    expect(toYAML(toManifestObject(r))).toContain('  labels:\n    app: c\n    rack: b\n    zone: a\n');
  });

  it('prints a list as calicoctl prints a list query', () => {
    expect(toYAML(toListObject('IPPoolList', [pool], '7', { export: true }))).toBe(`apiVersion: projectcalico.org/v3
items:
- apiVersion: projectcalico.org/v3
  kind: IPPool
  metadata:
    name: new-pool
  spec:
    allowedUses:
    - Workload
    - Tunnel
    assignmentMode: Automatic
    blockSize: 26
    cidr: 10.0.0.0/16
    ipipMode: Always
    natOutgoing: true
    nodeSelector: all()
    vxlanMode: Never
kind: IPPoolList
metadata: {}
`);
  });

  it('prints JSON with two-space indentation and a final newline', () => {
    const peer = parseOne(WALKTHROUGH.find((m) => m.flow === '2. global BGP peer')!.text).resource;
    expect(toJSON(toManifestObject(peer))).toBe(`{
  "apiVersion": "projectcalico.org/v3",
  "kind": "BGPPeer",
  "metadata": {
    "name": "bgppeer-global-3040"
  },
  "spec": {
    "peerIP": "192.20.30.40",
    "asNumber": 64567
  }
}
`);
  });
});

describe('round trips', () => {
  const prepared = (text: string) => parseAll(text).map((r) => prepareResource(r, { op: 'create' }).resource);

  it.each(WALKTHROUGH.map((m) => [m.flow, m.text] as const))('%s: parse, prepare, toYAML, parse gives the same resources', (_flow, text) => {
    const first = prepared(text);
    const yaml = first.map((r) => toYAML(toManifestObject(r))).join('---\n');
    const second = prepared(yaml);
    expect(second).toEqual(first);
    expect(second.map((r) => toYAML(toManifestObject(r))).join('---\n')).toBe(yaml);
  });

  it.each(WALKTHROUGH.map((m) => [m.flow, m.text] as const))('%s: toJSON of the list reads back the same', (_flow, text) => {
    const first = prepared(text);
    const json = toJSON(toListObject(first.length > 1 ? 'List' : `${kindOf(first[0]).kind}List`, first, '3'));
    expect(parseManifest(json)).toMatchObject({ errors: [] });
    expect(prepared(json)).toEqual(first);
  });

  it.each(WALKTHROUGH.map((m) => [m.flow, m.text] as const))('%s: protobuf bytes decode to the same resource', (_flow, text) => {
    for (const r of prepared(text)) {
      expect(decodeResource(kindOf(r), encodeResource(r))).toEqual(r);
      const copy = cloneResource(r);
      expect(copy).toEqual(r);
      expect(copy).not.toBe(r);
    }
  });

  it('export, then read back, keeps everything but the store-owned metadata', () => {
    const [r] = parseAll(`apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
  uid: 3c9e1d2a-7b6f-4e0d-8a1c-2b3d4e5f6a7b
  resourceVersion: "9"
  creationTimestamp: "2024-05-01T10:00:00Z"
spec:
  asNumber: 63400
  nodeToNodeMeshEnabled: false
`);
    const [back] = parseAll(toYAML(toManifestObject(r, { export: true })));
    expect(back.kind?.value.metadata).toEqual({ ...r.kind?.value.metadata, uid: '', resourceVersion: '', creationTimestamp: undefined });
    expect(back.kind?.value.spec).toEqual(r.kind?.value.spec);
  });
});
