import { parseManifest } from '@tabby/api';
import type { Resource } from '@tabby/proto';

/** Parses a manifest that must be valid and returns its resources. */
export function manifest(text: string): Resource[] {
  const r = parseManifest(text);
  if (r.errors.length > 0) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.resources.map((x) => x.resource);
}

/** The single resource of a manifest. */
export function one(text: string): Resource {
  const [r] = manifest(text);
  return r;
}

/** The manifests of the operator walkthrough, exactly as written there. */
export const WALKTHROUGH = {
  bgpConfigDefault: `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  logSeverityScreen: Info
  nodeToNodeMeshEnabled: false
  asNumber: 63400
`,
  globalPeer: `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: bgppeer-global-3040
spec:
  peerIP: 192.20.30.40
  asNumber: 64567
`,
  nodePeer: `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: bgppeer-node-aabbff
spec:
  peerIP: aa:bb::ff
  node: node1
  asNumber: 64514
`,
  peerToRRs: `kind: BGPPeer
apiVersion: projectcalico.org/v3
metadata:
  name: peer-to-rrs
spec:
  nodeSelector: "!has(i-am-a-route-reflector)"
  peerSelector: has(i-am-a-route-reflector)
`,
  rrMesh: `kind: BGPPeer
apiVersion: projectcalico.org/v3
metadata:
  name: rr-mesh
spec:
  nodeSelector: has(i-am-a-route-reflector)
  peerSelector: has(i-am-a-route-reflector)
`,
  defaultPool: `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 192.168.0.0/16
  ipipMode: Always
  natOutgoing: true
`,
  newPool: `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: new-pool
spec:
  cidr: 10.0.0.0/16
  ipipMode: Always
  natOutgoing: true
`,
  rrNode: `apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: node1
  labels:
    i-am-a-route-reflector: "true"
spec:
  bgp:
    ipv4Address: 127.0.0.11/32
    routeReflectorClusterID: 224.0.0.1
`,
} as const;

/** pool.yaml of the walkthrough: the List of both pools, the old one disabled. */
export const POOL_LIST_DISABLING_OLD = `apiVersion: projectcalico.org/v3
kind: IPPoolList
items:
- apiVersion: projectcalico.org/v3
  kind: IPPool
  metadata:
    name: default-ipv4-ippool
  spec:
    cidr: 192.168.0.0/16
    ipipMode: Always
    natOutgoing: true
    disabled: true
- apiVersion: projectcalico.org/v3
  kind: IPPool
  metadata:
    name: new-pool
  spec:
    cidr: 10.0.0.0/16
    ipipMode: Always
    natOutgoing: true
`;

export function pool(name: string, cidr: string, extra = ''): Resource {
  return one(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: ${name}
spec:
  cidr: ${cidr}
${extra}`);
}

export function peer(name: string, peerIP: string, asNumber: number, labels: Record<string, string> = {}): Resource {
  const labelText = Object.entries(labels)
    .map(([k, v]) => `    ${k}: "${v}"\n`)
    .join('');
  return one(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: ${name}
${labelText ? `  labels:\n${labelText}` : ''}spec:
  peerIP: ${peerIP}
  asNumber: ${asNumber}
`);
}
