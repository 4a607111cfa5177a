/**
 * The manifests of the operator walkthrough (docs/walkthrough.md), exactly
 * as the notes write them (key order, quoting, `kind` before `apiVersion`), plus the files
 * the flows make with `tabbyctl get ... -o yaml`, as calicoctl prints them.
 */
export interface WalkthroughManifest {
  /** Which flow of the walkthrough it comes from. */
  readonly flow: string;
  readonly text: string;
}

export const WALKTHROUGH: readonly WalkthroughManifest[] = [
  {
    flow: '1. global AS 63400, mesh off',
    text: `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  logSeverityScreen: Info
  nodeToNodeMeshEnabled: false
  asNumber: 63400
`,
  },
  {
    flow: '2. global BGP peer',
    text: `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: bgppeer-global-3040
spec:
  peerIP: 192.20.30.40
  asNumber: 64567
`,
  },
  {
    flow: '3. node-specific BGP peer',
    text: `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: bgppeer-node-aabbff
spec:
  peerIP: aa:bb::ff
  node: node1
  asNumber: 64514
`,
  },
  {
    flow: '5. route reflector node (node.yml after editing)',
    text: `apiVersion: projectcalico.org/v3
kind: Node
metadata:
  labels:
    i-am-a-route-reflector: "true"
  name: node1
spec:
  bgp:
    ipv4Address: 172.17.8.101/24
    routeReflectorClusterID: 224.0.0.1
`,
  },
  {
    flow: '5. peer-to-rrs',
    text: `kind: BGPPeer
apiVersion: projectcalico.org/v3
metadata:
  name: peer-to-rrs
spec:
  nodeSelector: "!has(i-am-a-route-reflector)"
  peerSelector: has(i-am-a-route-reflector)
`,
  },
  {
    flow: '5. rr-mesh',
    text: `kind: BGPPeer
apiVersion: projectcalico.org/v3
metadata:
  name: rr-mesh
spec:
  nodeSelector: has(i-am-a-route-reflector)
  peerSelector: has(i-am-a-route-reflector)
`,
  },
  {
    flow: '6. the default pool, as `get ippool default-ipv4-ippool --export -o yaml` prints it',
    text: `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  blockSize: 26
  cidr: 192.168.0.0/16
  ipipMode: Always
  natOutgoing: true
  nodeSelector: all()
`,
  },
  {
    flow: '6. new-pool',
    text: `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: new-pool
spec:
  cidr: 10.0.0.0/16
  ipipMode: Always
  natOutgoing: true
`,
  },
  {
    flow: '6. pool.yaml: both pools, the old one disabled',
    text: `apiVersion: projectcalico.org/v3
items:
- apiVersion: projectcalico.org/v3
  kind: IPPool
  metadata:
    name: default-ipv4-ippool
  spec:
    blockSize: 26
    cidr: 192.168.0.0/16
    disabled: true
    ipipMode: Always
    natOutgoing: true
    nodeSelector: all()
- apiVersion: projectcalico.org/v3
  kind: IPPool
  metadata:
    name: new-pool
  spec:
    blockSize: 26
    cidr: 10.0.0.0/16
    ipipMode: Always
    natOutgoing: true
    nodeSelector: all()
kind: IPPoolList
metadata: {}
`,
  },
];

/** The RR peer as the notes write it: the selector unquoted, which YAML reads as a tag. */
export const UNQUOTED_RR_PEER = `kind: BGPPeer
apiVersion: projectcalico.org/v3
metadata:
  name: peer-to-rrs
spec:
  nodeSelector: !has(i-am-a-route-reflector)
  peerSelector: has(i-am-a-route-reflector)
`;

/** The walkthrough manifest of a flow, by the start of its `flow` label (e.g. `2. global BGP peer`). */
export function walkthroughManifest(flow: string): string {
  const m = WALKTHROUGH.find((w) => w.flow.startsWith(flow));
  if (!m) throw new Error(`no walkthrough manifest for flow "${flow}"`);
  return m.text;
}
