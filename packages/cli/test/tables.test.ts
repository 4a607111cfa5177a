/**
 * Every kind's table, default and wide, against golden/tables.txt (UPDATE_GOLDEN=1 rewrites
 * it after a review). Layout: Go tabwriter as calicoctl prints, one table per list query.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KINDS, parseManifest, prepareResource, type KindInfo } from '@tabby/api';
import type { Resource } from '@tabby/proto';
import { render, type OutputFormat } from '../src/index.js';

const SAMPLES = `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: default}
spec: {logSeverityScreen: Info, nodeToNodeMeshEnabled: false, asNumber: 63400}
---
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata: {name: node.node1}
spec: {listenPort: 1790}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: bgppeer-global-3040}
spec: {peerIP: 192.20.30.40, asNumber: 64567}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: bgppeer-node-aabbff}
spec: {peerIP: aa:bb::ff, node: node1, asNumber: 64514}
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata: {name: peer-to-rrs}
spec: {nodeSelector: "!has(i-am-a-route-reflector)", peerSelector: has(i-am-a-route-reflector)}
---
apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata: {name: export-only-pools}
spec:
  exportV4:
    - {cidr: 10.0.0.0/16, matchOperator: In, action: Accept}
    - {action: Reject}
  exportV6: [{cidr: "fd00:10::/48", matchOperator: In, prefixLength: {min: 48, max: 122}, action: Accept}]
  importV6: [{cidr: "::/0", matchOperator: Equal, action: Reject}]
---
apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata: {name: no-default-route}
spec: {importV4: [{cidr: 0.0.0.0/0, matchOperator: Equal, action: Reject}]}
---
apiVersion: projectcalico.org/v3
kind: IPReservation
metadata: {name: gateways}
spec: {reservedCIDRs: [10.0.0.1, 10.0.1.1, "fd00:10::1"]}
---
apiVersion: projectcalico.org/v3
kind: IPReservation
metadata: {name: many}
spec: {reservedCIDRs: [10.1.0.0/28, 10.1.0.16/28, 10.1.0.32/28, 10.1.0.48/28, 10.1.0.64/28, 10.1.0.80/28, 10.1.0.96/28]}
---
apiVersion: projectcalico.org/v3
kind: IPAMConfiguration
metadata: {name: default}
spec: {strictAffinity: true, maxBlocksPerHost: 4}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: default-ipv4-ippool}
spec: {cidr: 192.168.0.0/16, ipipMode: Always, natOutgoing: true, disabled: true}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: new-pool}
spec: {cidr: 10.0.0.0/16, vxlanMode: CrossSubnet, nodeSelector: "rack == 'r1'", disableBGPExport: true}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: v6-pool}
spec: {cidr: "fd00:10::/48", assignmentMode: Manual}
---
apiVersion: projectcalico.org/v3
kind: Node
metadata: {name: node1, labels: {i-am-a-route-reflector: "true"}}
spec: {bgp: {ipv4Address: 172.17.8.101/24, ipv6Address: "fd00::101/64", asNumber: 64601, routeReflectorClusterID: 224.0.0.1}}
---
apiVersion: projectcalico.org/v3
kind: Node
metadata: {name: node2}
spec: {bgp: {ipv4Address: 172.17.8.102/24}}
---
apiVersion: projectcalico.org/v3
kind: Node
metadata: {name: bare}
spec: {}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: vagrant-k8s-kube--dns--6f4fd4bdf--8q7zp-eth0, namespace: kube-system}
spec: {orchestrator: k8s, node: vagrant, pod: kube-dns-6f4fd4bdf-8q7zp, endpoint: eth0, interfaceName: cali800a63073ed, ipNetworks: [192.168.52.130/32], profiles: [kns.kube-system, ksa.kube-system.kube-dns], ipNATs: [{internalIP: 192.168.52.130, externalIP: 172.17.8.200}]}
---
apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: node2-cni-abc123-eth0, namespace: default}
spec: {orchestrator: cni, node: node2, containerID: abc123, endpoint: eth0, workload: web-1, interfaceName: caliabc123, ipNetworks: [10.0.24.8/32, "fd00:10::8/128"]}
---
apiVersion: projectcalico.org/v3
kind: NodeStatus
metadata: {name: node1}
spec: {node: node1, updatePeriodSeconds: 10}
status:
  lastUpdated: "2026-01-02T03:04:05Z"
  agent: {state: Ready}
  bgp: {numberEstablishedV4: 2, numberNotEstablishedV4: 1, numberEstablishedV6: 0, numberNotEstablishedV6: 0}
`;

function samples(): Map<KindInfo, Resource[]> {
  const parsed = parseManifest(SAMPLES, { source: 'samples' });
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  const byKind = new Map<KindInfo, Resource[]>();
  for (const m of parsed.resources) {
    const p = prepareResource(m.resource, { op: 'create' });
    if (p.errors.length > 0) throw new Error(JSON.stringify(p.errors));
    byKind.set(m.kind, [...(byKind.get(m.kind) ?? []), p.resource]);
  }
  return byKind;
}

const GOLDEN = new URL('./golden/tables.txt', import.meta.url);

describe('tables of every kind', () => {
  it('match calicoctl layouts (golden/tables.txt)', () => {
    const all = samples();
    let out = '';
    for (const kind of KINDS) {
      const resources = all.get(kind) ?? [];
      expect(resources.length, `samples of ${kind.kind}`).toBeGreaterThan(0);
      for (const format of ['ps', 'wide'] as OutputFormat[]) {
        for (const namespaceColumn of kind.namespaced ? [false, true] : [false]) {
          out += `== ${kind.kind} -o ${format}${namespaceColumn ? ' --all-namespaces' : ''}\n`;
          out += render({ format, kind, resources, listQuery: true, export: false, namespaceColumn, ctx: { globalAS: 63400 } });
        }
      }
      out += `== ${kind.kind} by name (one table each)\n`;
      out += render({ format: 'ps', kind, resources: resources.slice(0, 2), listQuery: false, export: false, namespaceColumn: false, ctx: {} });
      out += `== ${kind.kind} empty list\n`;
      out += render({ format: 'ps', kind, resources: [], listQuery: true, export: false, namespaceColumn: false, ctx: {} });
    }
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, out);
    expect(existsSync(GOLDEN), 'golden/tables.txt exists (UPDATE_GOLDEN=1 writes it)').toBe(true);
    expect(out).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it('prints -o name as kubectl does', () => {
    const peers = samples().get(KINDS.find((k) => k.kind === 'BGPPeer')!)!;
    expect(render({ format: 'name', kind: KINDS[1], resources: peers.slice(0, 2), listQuery: true, export: false, namespaceColumn: false, ctx: {} })).toBe(
      'bgppeer.projectcalico.org/bgppeer-global-3040\nbgppeer.projectcalico.org/bgppeer-node-aabbff\n',
    );
  });
});
