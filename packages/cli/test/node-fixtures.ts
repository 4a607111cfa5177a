/** NodeStatus resources as an agent writes them, for the `node` command tests. */
import type { BGPPeerStatus, NodeStatus } from '@tabby/proto';

export function peer(peerIP: string, type: string, state: string, since: string, info: string, extra: Partial<BGPPeerStatus> = {}): BGPPeerStatus {
  return { peerIP, type, state, since, info, lastError: '', prefixesReceived: 0, prefixesAdvertised: 0, port: 179, ...extra };
}

export function nodeStatus(node: string, lastUpdated: string, v4: BGPPeerStatus[], v6: BGPPeerStatus[], opts: { period?: number; state?: string; address?: string } = {}): NodeStatus {
  const up = (ps: BGPPeerStatus[]): number => ps.filter((p) => p.state === 'up').length;
  return {
    metadata: { name: node, namespace: '', labels: {}, annotations: {}, uid: '', resourceVersion: '', generateName: '', finalizers: [] },
    spec: { node, updatePeriodSeconds: opts.period ?? 30 },
    status: {
      lastUpdated,
      agent: { state: opts.state ?? 'Ready', version: '0.1.0', routerID: '172.17.8.101', lastBootTime: '2024-05-01T16:00:00Z', lastReconfigurationTime: '2024-05-01T16:28:00Z', address: opts.address ?? '' },
      bgp: {
        numberEstablishedV4: up(v4),
        numberNotEstablishedV4: v4.length - up(v4),
        numberEstablishedV6: up(v6),
        numberNotEstablishedV6: v6.length - up(v6),
        peersV4: v4,
        peersV6: v6,
      },
    },
  };
}
