import type { Node } from '@tabby/proto';
import { parseIP } from '../net.js';
import type { Problems } from './problems.js';

const MAC = /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/;

/** Calico's Node rules (validateNodeSpec and field tags). */
export function validateNode(p: Problems, obj: Node): void {
  const s = obj.spec;
  if (!s) return;
  const bgp = s.bgp;
  if (bgp) {
    const empty = bgp.asNumber === undefined && bgp.ipv4Address === '' && bgp.ipv6Address === '' && bgp.ipv4IPIPTunnelAddr === '' && bgp.routeReflectorClusterID === '';
    if (empty) p.add('BGP', 'spec.bgp', undefined, 'Spec.BGP should not be empty');
    p.ipWithOptionalPrefix('Node.Spec.BGP.IPv4Address', 'spec.bgp.ipv4Address', bgp.ipv4Address, 4);
    p.ipWithOptionalPrefix('Node.Spec.BGP.IPv6Address', 'spec.bgp.ipv6Address', bgp.ipv6Address, 6);
    p.ip('Node.Spec.BGP.IPv4IPIPTunnelAddr', 'spec.bgp.ipv4IPIPTunnelAddr', bgp.ipv4IPIPTunnelAddr, 4);
    if (bgp.routeReflectorClusterID !== '') {
      const ip = parseIP(bgp.routeReflectorClusterID);
      if (!ip || ip.family !== 4)
        p.add('Node.Spec.BGP.RouteReflectorClusterID', 'spec.bgp.routeReflectorClusterID', bgp.routeReflectorClusterID, 'must be an IPv4 dotted quad such as 224.0.0.1');
    }
  }
  p.ip('Node.Spec.IPv4VXLANTunnelAddr', 'spec.ipv4VXLANTunnelAddr', s.ipv4VXLANTunnelAddr, 4);
  p.ip('Node.Spec.IPv6VXLANTunnelAddr', 'spec.ipv6VXLANTunnelAddr', s.ipv6VXLANTunnelAddr, 6);
  for (const [go, path, v] of [
    ['VXLANTunnelMACAddr', 'vxlanTunnelMACAddr', s.vxlanTunnelMACAddr],
    ['VXLANTunnelMACAddrV6', 'vxlanTunnelMACAddrV6', s.vxlanTunnelMACAddrV6],
  ] as const) {
    if (v !== '' && !MAC.test(v)) p.add(`Node.Spec.${go}`, `spec.${path}`, v, 'must be a MAC address such as 66:1f:4b:6e:51:19');
  }
  s.orchRefs.forEach((o, i) => {
    if (o.orchestrator === '') p.add(`Node.Spec.OrchRefs[${i}].Orchestrator`, `spec.orchRefs[${i}].orchestrator`, undefined, 'must be set');
  });
  if (s.wireguard) {
    p.ip('Node.Spec.Wireguard.InterfaceIPv4Address', 'spec.wireguard.interfaceIPv4Address', s.wireguard.interfaceIPv4Address, 4);
    p.ip('Node.Spec.Wireguard.InterfaceIPv6Address', 'spec.wireguard.interfaceIPv6Address', s.wireguard.interfaceIPv6Address, 6);
  }
  s.addresses.forEach((a, i) => {
    if (a.address === '') p.add(`Node.Spec.Addresses[${i}].Address`, `spec.addresses[${i}].address`, undefined, 'must be set');
    else p.cidrOrIP(`Node.Spec.Addresses[${i}].Address`, `spec.addresses[${i}].address`, a.address);
    p.oneOf(`Node.Spec.Addresses[${i}].Type`, `spec.addresses[${i}].type`, a.type, ['CalicoNodeIP', 'InternalIP', 'ExternalIP']);
  });
  s.interfaces.forEach((itf, i) => {
    p.interfaceName(`Node.Spec.Interfaces[${i}].Name`, `spec.interfaces[${i}].name`, itf.name);
    itf.addresses.forEach((a, j) => p.cidrOrIP(`Node.Spec.Interfaces[${i}].Addresses[${j}]`, `spec.interfaces[${i}].addresses[${j}]`, a));
  });
}
