import type { NodeStatus } from '@tabby/proto';
import type { Problems } from './problems.js';

export const PEER_TYPES = ['node-to-node mesh', 'global', 'node specific'] as const;

/** Rules for the agent-written NodeStatus. */
export function validateNodeStatus(p: Problems, obj: NodeStatus): void {
  const s = obj.spec;
  if (s) {
    p.dnsName('NodeStatus.Spec.Node', 'spec.node', s.node);
    if (s.node !== '' && obj.metadata && s.node !== obj.metadata.name)
      p.add('NodeStatus.Spec.Node', 'spec.node', s.node, `must equal metadata.name (${obj.metadata.name})`);
  }
  const bgp = obj.status?.bgp;
  if (!bgp) return;
  for (const [fam, list] of [
    ['V4', bgp.peersV4],
    ['V6', bgp.peersV6],
  ] as const) {
    list.forEach((peer, i) => {
      p.ip(`NodeStatus.Status.BGP.Peers${fam}[${i}].PeerIP`, `status.bgp.peers${fam}[${i}].peerIP`, peer.peerIP, fam === 'V4' ? 4 : 6);
      p.oneOf(`NodeStatus.Status.BGP.Peers${fam}[${i}].Type`, `status.bgp.peers${fam}[${i}].type`, peer.type, PEER_TYPES);
    });
  }
}
