import type { BGPPeer } from '@tabby/proto';
import { parseIP, parsePeerAddress } from '../net.js';
import type { Problems } from './problems.js';

/** Calico's BGPPeer rules (validateBGPPeerSpec, validateIPPort, client checks). */
export function validateBGPPeer(p: Problems, obj: BGPPeer): void {
  const s = obj.spec;
  if (!s) return;
  p.dnsName('BGPPeer.Spec.Node', 'spec.node', s.node);
  p.selector('BGPPeer.Spec.NodeSelector', 'spec.nodeSelector', s.nodeSelector);
  p.selector('BGPPeer.Spec.PeerSelector', 'spec.peerSelector', s.peerSelector);
  p.selector('BGPPeer.Spec.LocalWorkloadSelector', 'spec.localWorkloadSelector', s.localWorkloadSelector);
  if (s.node !== '' && s.nodeSelector !== '') p.add('BGPPeer.Spec.Node', 'spec.node', s.node, 'Node field must be empty when NodeSelector is specified');

  const peer = s.peerIP !== '' ? parsePeerAddress(s.peerIP) : undefined;
  if (s.peerIP !== '' && !peer) p.add('BGPPeer.Spec.PeerIP', 'spec.peerIP', s.peerIP, 'PeerIP must be an IP address, <IPv4>:<port> or [<IPv6>]:<port>, with a port from 1 to 65535');
  if (s.peerSelector !== '') {
    if (s.peerIP !== '') p.add('BGPPeer.Spec.PeerIP', 'spec.peerIP', s.peerIP, 'PeerIP field must be empty when PeerSelector is specified');
    if (s.asNumber !== undefined && s.asNumber !== 0) p.add('BGPPeer.Spec.ASNumber', 'spec.asNumber', s.asNumber, 'ASNumber field must be empty when PeerSelector is specified');
  }
  if (s.localWorkloadSelector !== '') {
    if (s.asNumber === undefined || s.asNumber === 0)
      p.add('BGPPeer.Spec.ASNumber', 'spec.asNumber', undefined, 'ASNumber field must NOT be empty when LocalWorkloadSelector is specified');
    if (s.peerIP !== '') p.add('BGPPeer.Spec.PeerIP', 'spec.peerIP', s.peerIP, 'PeerIP field must be empty when LocalWorkloadSelector is specified');
    if (s.peerSelector !== '') p.add('BGPPeer.Spec.PeerSelector', 'spec.peerSelector', s.peerSelector, 'PeerSelector field must be empty when LocalWorkloadSelector is specified');
  }
  if (s.reachableBy !== '') {
    const rb = parseIP(s.reachableBy);
    if (s.peerIP === '') p.add('BGPPeer.Spec.ReachableBy', 'spec.reachableBy', s.reachableBy, 'ReachablyBy field must be empty when PeerIP is empty');
    else if (!rb) p.add('BGPPeer.Spec.ReachableBy', 'spec.reachableBy', s.reachableBy, 'ReachableBy is invalid address');
    else if (peer && peer.ip.family !== rb.family) p.add('BGPPeer.Spec.ReachableBy', 'spec.reachableBy', s.reachableBy, 'ReachableBy and PeerIP address family mismatched');
  }
  p.oneOf('BGPPeer.Spec.NextHopMode', 'spec.nextHopMode', s.nextHopMode, ['Auto', 'Self', 'Keep']);
  if (s.keepOriginalNextHop && s.nextHopMode !== '')
    p.add('BGPPeer.Spec.KeepOriginalNextHop', 'spec.keepOriginalNextHop', 'true', 'The KeepOriginalNextHop field is deprecated. It must not be set to true when NextHopMode is configured.');
  p.oneOf('BGPPeer.Spec.SourceAddress', 'spec.sourceAddress', s.sourceAddress, ['UseNodeIP', 'None']);
  p.oneOf('BGPPeer.Spec.ReversePeering', 'spec.reversePeering', s.reversePeering, ['Auto', 'Manual']);
  p.secretRef('BGPPeer.Spec.Password', 'spec.password', s.password);
  p.duration('BGPPeer.Spec.MaxRestartTime', 'spec.maxRestartTime', s.maxRestartTime);
  p.duration('BGPPeer.Spec.KeepaliveTime', 'spec.keepaliveTime', s.keepaliveTime);
  if (s.numAllowedLocalASNumbers !== undefined && (s.numAllowedLocalASNumbers < 0 || s.numAllowedLocalASNumbers > 10))
    p.add('BGPPeer.Spec.NumAllowedLocalASNumbers', 'spec.numAllowedLocalASNumbers', s.numAllowedLocalASNumbers, 'must be from 0 to 10');
  if (s.ttlSecurity !== undefined && s.ttlSecurity > 255) p.add('BGPPeer.Spec.TTLSecurity', 'spec.ttlSecurity', s.ttlSecurity, 'must be from 0 to 255');
  // That each name in filters is a stored BGPFilter is a cross-resource rule (crossResourceProblems).
}
