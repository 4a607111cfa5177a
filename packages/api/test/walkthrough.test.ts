import { describe, expect, it } from 'vitest';
import { parseManifest, prepareResource, toManifestObject, validationMessage } from '../src/index.js';
import { parseAll, parseOne } from './helpers.js';
import { UNQUOTED_RR_PEER, WALKTHROUGH } from '@tabby/harness';

const v3 = 'projectcalico.org/v3';

/** What each walkthrough manifest becomes once Calico's defaults are filled in. */
const expected: Readonly<Record<string, readonly object[]>> = {
  '1. global AS 63400, mesh off': [
    { apiVersion: v3, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { logSeverityScreen: 'Info', nodeToNodeMeshEnabled: false, asNumber: 63400 } },
  ],
  '2. global BGP peer': [{ apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'bgppeer-global-3040' }, spec: { peerIP: '192.20.30.40', asNumber: 64567 } }],
  '3. node-specific BGP peer': [
    { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'bgppeer-node-aabbff' }, spec: { peerIP: 'aa:bb::ff', node: 'node1', asNumber: 64514 } },
  ],
  '5. route reflector node (node.yml after editing)': [
    {
      apiVersion: v3,
      kind: 'Node',
      metadata: { name: 'node1', labels: { 'i-am-a-route-reflector': 'true' } },
      spec: { bgp: { ipv4Address: '172.17.8.101/24', routeReflectorClusterID: '224.0.0.1' } },
    },
  ],
  '5. peer-to-rrs': [
    { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'peer-to-rrs' }, spec: { nodeSelector: '!has(i-am-a-route-reflector)', peerSelector: 'has(i-am-a-route-reflector)' } },
  ],
  '5. rr-mesh': [
    { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'rr-mesh' }, spec: { nodeSelector: 'has(i-am-a-route-reflector)', peerSelector: 'has(i-am-a-route-reflector)' } },
  ],
  '6. the default pool, as `get ippool default-ipv4-ippool --export -o yaml` prints it': [pool('default-ipv4-ippool', '192.168.0.0/16', {})],
  '6. new-pool': [pool('new-pool', '10.0.0.0/16', {})],
  '6. pool.yaml: both pools, the old one disabled': [pool('default-ipv4-ippool', '192.168.0.0/16', { disabled: true }), pool('new-pool', '10.0.0.0/16', {})],
};

/** A walkthrough pool after defaulting: IPIP Always and NAT as written, the rest Calico's defaults. */
function pool(name: string, cidr: string, extra: object): object {
  return {
    apiVersion: v3,
    kind: 'IPPool',
    metadata: { name },
    spec: {
      cidr,
      blockSize: 26,
      ipipMode: 'Always',
      vxlanMode: 'Never',
      natOutgoing: true,
      nodeSelector: 'all()',
      allowedUses: ['Workload', 'Tunnel'],
      assignmentMode: 'Automatic',
      ...extra,
    },
  };
}

describe('walkthrough manifests', () => {
  it('has an expectation for every manifest', () => {
    expect(WALKTHROUGH.map((m) => m.flow)).toEqual(Object.keys(expected));
  });

  it.each(WALKTHROUGH.map((m) => [m.flow, m.text] as const))('%s: parses, passes create validation and gets the defaults', (flow, text) => {
    const resources = parseAll(text);
    const prepared = resources.map((r) => prepareResource(r, { op: 'create' }));
    expect(prepared.map((p) => p.errors)).toEqual(prepared.map(() => []));
    expect(prepared.map((p) => toManifestObject(p.resource))).toEqual(expected[flow]);
  });

  it('keeps the key order of the RR peers irrelevant: kind before apiVersion reads the same', () => {
    const rr = WALKTHROUGH.find((m) => m.flow === '5. peer-to-rrs')!.text;
    const reordered = rr.replace('kind: BGPPeer\napiVersion: projectcalico.org/v3\n', 'apiVersion: projectcalico.org/v3\nkind: BGPPeer\n');
    expect(reordered).not.toBe(rr);
    expect(parseOne(reordered).resource).toEqual(parseOne(rr).resource);
  });
});

describe('defaults of a pool (Calico ippool.go validateAndSetDefaults)', () => {
  it.each([
    ['IPv4, nothing but the CIDR', { cidr: '10.0.0.0/16' }, { cidr: '10.0.0.0/16', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Never' }],
    ['IPv6, nothing but the CIDR', { cidr: 'fd00:10:244::/64' }, { cidr: 'fd00:10:244::/64', blockSize: 122, ipipMode: 'Never', vxlanMode: 'Never' }],
    ['IPv6 written long-hand is normalised', { cidr: 'FD00:0010:0244:0000::/64' }, { cidr: 'fd00:10:244::/64', blockSize: 122, ipipMode: 'Never', vxlanMode: 'Never' }],
    ['VXLAN set, IPIP defaulted', { cidr: '10.0.0.0/16', vxlanMode: 'CrossSubnet' }, { cidr: '10.0.0.0/16', blockSize: 26, ipipMode: 'Never', vxlanMode: 'CrossSubnet' }],
    ['block size kept when set', { cidr: '10.0.0.0/16', blockSize: 24 }, { cidr: '10.0.0.0/16', blockSize: 24, ipipMode: 'Never', vxlanMode: 'Never' }],
  ])('%s', (_name, spec, want) => {
    const p = prepareResource(parseOne(JSON.stringify({ apiVersion: v3, kind: 'IPPool', metadata: { name: 'p' }, spec })).resource, { op: 'create' });
    expect(p.errors).toEqual([]);
    expect(toManifestObject(p.resource).spec).toEqual({ ...want, nodeSelector: 'all()', allowedUses: ['Workload', 'Tunnel'], assignmentMode: 'Automatic' });
  });
});

describe('flow 6: applying pool.yaml as `get ippool -o yaml` prints it', () => {
  const stored = WALKTHROUGH.filter((m) => m.flow === '6. the default pool, as `get ippool default-ipv4-ippool --export -o yaml` prints it' || m.flow === '6. new-pool').map(
    (m) => prepareResource(parseOne(m.text).resource, { op: 'create' }).resource,
  );
  const printed = (oldCIDR: string): string => `apiVersion: projectcalico.org/v3
items:
- apiVersion: projectcalico.org/v3
  kind: IPPool
  metadata:
    creationTimestamp: "2024-05-01T10:00:00Z"
    name: default-ipv4-ippool
    resourceVersion: "1"
    uid: 0f2b7c1e-5d8a-4c1e-9d53-1f0e8b8f9a11
  spec:
    allowedUses:
    - Workload
    - Tunnel
    blockSize: 26
    cidr: ${oldCIDR}
    disabled: true
    ipipMode: Always
    natOutgoing: true
    nodeSelector: all()
    vxlanMode: Never
- apiVersion: projectcalico.org/v3
  kind: IPPool
  metadata:
    creationTimestamp: "2024-05-02T10:00:00Z"
    name: new-pool
    resourceVersion: "2"
    uid: 3c9e1d2a-7b6f-4e0d-8a1c-2b3d4e5f6a7b
  spec:
    allowedUses:
    - Workload
    - Tunnel
    blockSize: 26
    cidr: 10.0.0.0/16
    ipipMode: Always
    natOutgoing: true
    nodeSelector: all()
    vxlanMode: Never
kind: IPPoolList
metadata:
  resourceVersion: "2"
`;

  it('updates both pools, the old one now disabled', () => {
    const items = parseAll(printed('192.168.0.0/16'));
    const prepared = items.map((r, i) => prepareResource(r, { op: 'update', previous: stored[i] }));
    expect(prepared.map((p) => p.errors)).toEqual([[], []]);
    expect(prepared.map((p) => toManifestObject(p.resource, { export: true }))).toEqual([
      pool('default-ipv4-ippool', '192.168.0.0/16', { disabled: true }),
      pool('new-pool', '10.0.0.0/16', {}),
    ]);
  });

  it("refuses the notes' typo 192.0.0.0/16 for the old pool, saying why and what to do", () => {
    const [old] = parseAll(printed('192.0.0.0/16'));
    expect(validationMessage(prepareResource(old, { op: 'update', previous: stored[0] }).errors)).toBe(
      "error with field IPPool.Spec.CIDR = '192.0.0.0/16' (IPPool CIDR cannot be modified (it is 192.168.0.0/16); follow the IP pool migration procedure: create a new pool, disable this one, recreate its workloads, then delete it)",
    );
  });
});

describe('the RR peer with its selector unquoted, as the notes write it', () => {
  it('is refused at line 6 with the field path and the quoted form to write instead', () => {
    const result = parseManifest(UNQUOTED_RR_PEER, { source: 'rr.yaml' });
    expect(result.resources).toEqual([]);
    expect(result.errors.map((e) => [e.location, e.path, e.message])).toEqual([
      [
        { document: 1, line: 6, column: 17 },
        'spec.nodeSelector',
        'rr.yaml: document 1, line 6, column 17: spec.nodeSelector: YAML reads the unquoted value !has(i-am-a-route-reflector) as a tag, because it starts with "!"; quote it: nodeSelector: "!has(i-am-a-route-reflector)"',
      ],
    ]);
  });

  it('gives the quoted form that, written back, is the walkthrough manifest', () => {
    const fixed = UNQUOTED_RR_PEER.replace('nodeSelector: !has(i-am-a-route-reflector)', 'nodeSelector: "!has(i-am-a-route-reflector)"');
    expect(fixed).toBe(WALKTHROUGH.find((m) => m.flow === '5. peer-to-rrs')!.text);
  });
});
