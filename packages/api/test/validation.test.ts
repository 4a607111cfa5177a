import { describe, expect, it } from 'vitest';
import {
  API_VERSION,
  ValidationError,
  crossResourceProblems,
  formatFieldError,
  parseASNumber,
  parseManifest,
  prepareResource,
  validationMessage,
  type FieldError,
  type PrepareContext,
} from '../src/index.js';
import { parseOne, resourceOf } from './helpers.js';

/** A field error as Calico reports it, plus the manifest path Tabby adds. */
function fe(field: string, path: string, value: string | undefined, reason: string): FieldError {
  return { field, path, value, reason };
}

/** One rule broken: the resource, the exact field errors and the whole message the user sees. */
interface Case {
  readonly name: string;
  readonly kind: string;
  /** Defaults to `{ name: 'x' }` (WorkloadEndpoint: `{ namespace: 'default' }`, name derived). */
  readonly metadata?: object;
  readonly spec: object;
  readonly op?: PrepareContext['op'];
  /** Spec of the stored object, for update rules (stored as the store would: prepared). */
  readonly previous?: object;
  readonly errors: readonly FieldError[];
  readonly message: string;
}

/** A Kubernetes pod's endpoint with every field the name is derived from. */
const pod = { orchestrator: 'k8s', node: 'node-1', pod: 'nginx-abc', endpoint: 'eth0', interfaceName: 'cali0ef24b1a1d1', ipNetworks: ['10.0.24.8/32'] };

const NAME_REGEX = "name must consist of lower case alphanumeric characters, '-' or '.' (regex: [a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)";
const DNS_NAME = "must be a lower case DNS name: alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character";
const PEER_IP = 'PeerIP must be an IP address, <IPv4>:<port> or [<IPv6>]:<port>, with a port from 1 to 65535';
const LABEL_VALUE = "a label value must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const NAME_PART = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const MIGRATE = 'follow the IP pool migration procedure: create a new pool, disable this one, recreate its workloads, then delete it';

const ipPoolCases: Case[] = [
  {
    name: 'CIDR missing',
    kind: 'IPPool',
    spec: {},
    errors: [fe('IPPool.Spec.CIDR', 'spec.cidr', undefined, 'IPPool CIDR must be specified')],
    message: 'error with field IPPool.Spec.CIDR (IPPool CIDR must be specified)',
  },
  {
    name: 'CIDR prefix longer than the family allows',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/33' },
    errors: [fe('IPPool.Spec.CIDR', 'spec.cidr', '10.0.0.0/33', 'IPPool CIDR must be a valid subnet')],
    message: "error with field IPPool.Spec.CIDR = '10.0.0.0/33' (IPPool CIDR must be a valid subnet)",
  },
  {
    name: 'CIDR without a prefix length',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0' },
    errors: [fe('IPPool.Spec.CIDR', 'spec.cidr', '10.0.0.0', 'IPPool CIDR must be a valid subnet')],
    message: "error with field IPPool.Spec.CIDR = '10.0.0.0' (IPPool CIDR must be a valid subnet)",
  },
  {
    name: 'CIDR with an octet out of range',
    kind: 'IPPool',
    spec: { cidr: '10.0.256.0/24' },
    errors: [fe('IPPool.Spec.CIDR', 'spec.cidr', '10.0.256.0/24', 'IPPool CIDR must be a valid subnet')],
    message: "error with field IPPool.Spec.CIDR = '10.0.256.0/24' (IPPool CIDR must be a valid subnet)",
  },
  {
    name: 'IPv4 CIDR with host bits set',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.1/16' },
    errors: [fe('IPPool.Spec.CIDR', 'spec.cidr', '10.0.0.1/16', 'IPPool CIDR is not strictly masked (did you mean 10.0.0.0/16?)')],
    message: "error with field IPPool.Spec.CIDR = '10.0.0.1/16' (IPPool CIDR is not strictly masked (did you mean 10.0.0.0/16?))",
  },
  {
    name: 'IPv6 CIDR with host bits set',
    kind: 'IPPool',
    spec: { cidr: 'fd00::1/64' },
    errors: [fe('IPPool.Spec.CIDR', 'spec.cidr', 'fd00::1/64', 'IPPool CIDR is not strictly masked (did you mean fd00::/64?)')],
    message: "error with field IPPool.Spec.CIDR = 'fd00::1/64' (IPPool CIDR is not strictly masked (did you mean fd00::/64?))",
  },
  {
    name: 'IPIP and VXLAN both on',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/16', ipipMode: 'Always', vxlanMode: 'CrossSubnet' },
    errors: [fe('IPPool.Spec.VXLANMode', 'spec.vxlanMode', 'CrossSubnet', 'Cannot enable both VXLAN and IPIP on the same IPPool')],
    message: "error with field IPPool.Spec.VXLANMode = 'CrossSubnet' (Cannot enable both VXLAN and IPIP on the same IPPool)",
  },
  {
    name: 'IPIP mode not one of the three',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/16', ipipMode: 'always' },
    errors: [fe('IPPool.Spec.IPIPMode', 'spec.ipipMode', 'always', 'must be one of Never, Always, CrossSubnet')],
    message: "error with field IPPool.Spec.IPIPMode = 'always' (must be one of Never, Always, CrossSubnet)",
  },
  {
    name: 'VXLAN mode not one of the three',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/16', vxlanMode: 'On' },
    errors: [fe('IPPool.Spec.VXLANMode', 'spec.vxlanMode', 'On', 'must be one of Never, Always, CrossSubnet')],
    message: "error with field IPPool.Spec.VXLANMode = 'On' (must be one of Never, Always, CrossSubnet)",
  },
  {
    name: 'IPv4 block size below 20',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/16', blockSize: 19 },
    errors: [fe('IPPool.Spec.BlockSize', 'spec.blockSize', '19', 'IPv4 block size must be between 20 and 32')],
    message: "error with field IPPool.Spec.BlockSize = '19' (IPv4 block size must be between 20 and 32)",
  },
  {
    name: 'IPv4 block size above 32',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/16', blockSize: 33 },
    errors: [fe('IPPool.Spec.BlockSize', 'spec.blockSize', '33', 'IPv4 block size must be between 20 and 32')],
    message: "error with field IPPool.Spec.BlockSize = '33' (IPv4 block size must be between 20 and 32)",
  },
  {
    name: 'IPv6 block size below 116',
    kind: 'IPPool',
    spec: { cidr: 'fd00::/64', blockSize: 115 },
    errors: [fe('IPPool.Spec.BlockSize', 'spec.blockSize', '115', 'IPv6 block size must be between 116 and 128')],
    message: "error with field IPPool.Spec.BlockSize = '115' (IPv6 block size must be between 116 and 128)",
  },
  {
    name: 'IPv6 block size above 128',
    kind: 'IPPool',
    spec: { cidr: 'fd00::/64', blockSize: 129 },
    errors: [fe('IPPool.Spec.BlockSize', 'spec.blockSize', '129', 'IPv6 block size must be between 116 and 128')],
    message: "error with field IPPool.Spec.BlockSize = '129' (IPv6 block size must be between 116 and 128)",
  },
  {
    name: 'IPv4 pool smaller than its default block',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/28' },
    errors: [fe('IPPool.Spec.CIDR', 'spec.cidr', '10.0.0.0/28', 'IP pool size is too small for use with Calico IPAM. It must be equal to or greater than the block size.')],
    message: "error with field IPPool.Spec.CIDR = '10.0.0.0/28' (IP pool size is too small for use with Calico IPAM. It must be equal to or greater than the block size.)",
  },
  {
    name: 'IPv6 pool smaller than its default block',
    kind: 'IPPool',
    spec: { cidr: 'fd00::/123' },
    errors: [fe('IPPool.Spec.CIDR', 'spec.cidr', 'fd00::/123', 'IP pool size is too small for use with Calico IPAM. It must be equal to or greater than the block size.')],
    message: "error with field IPPool.Spec.CIDR = 'fd00::/123' (IP pool size is too small for use with Calico IPAM. It must be equal to or greater than the block size.)",
  },
  {
    name: 'IPv4 pool inside the link-local range',
    kind: 'IPPool',
    spec: { cidr: '169.254.0.0/20' },
    errors: [fe('IPPool.Spec.CIDR', 'spec.cidr', '169.254.0.0/20', 'IPPool CIDR overlaps with IPv4 Link Local range 169.254.0.0/16')],
    message: "error with field IPPool.Spec.CIDR = '169.254.0.0/20' (IPPool CIDR overlaps with IPv4 Link Local range 169.254.0.0/16)",
  },
  {
    name: 'IPv4 pool containing the link-local range',
    kind: 'IPPool',
    spec: { cidr: '169.0.0.0/8' },
    errors: [fe('IPPool.Spec.CIDR', 'spec.cidr', '169.0.0.0/8', 'IPPool CIDR overlaps with IPv4 Link Local range 169.254.0.0/16')],
    message: "error with field IPPool.Spec.CIDR = '169.0.0.0/8' (IPPool CIDR overlaps with IPv4 Link Local range 169.254.0.0/16)",
  },
  {
    name: 'IPv6 pool inside the link-local range',
    kind: 'IPPool',
    spec: { cidr: 'fe80::/64' },
    errors: [fe('IPPool.Spec.CIDR', 'spec.cidr', 'fe80::/64', 'IPPool CIDR overlaps with IPv6 Link Local range fe80::/10')],
    message: "error with field IPPool.Spec.CIDR = 'fe80::/64' (IPPool CIDR overlaps with IPv6 Link Local range fe80::/10)",
  },
  {
    name: 'IPIP on an IPv6 pool',
    kind: 'IPPool',
    spec: { cidr: 'fd00::/64', ipipMode: 'CrossSubnet' },
    errors: [fe('IPPool.Spec.IPIPMode', 'spec.ipipMode', 'CrossSubnet', 'IPIP is not supported on an IPv6 IP pool')],
    message: "error with field IPPool.Spec.IPIPMode = 'CrossSubnet' (IPIP is not supported on an IPv6 IP pool)",
  },
  {
    name: 'global() as node selector',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/16', nodeSelector: 'global()' },
    errors: [fe('IPPool.Spec.NodeSelector', 'spec.nodeSelector', 'global()', 'global() selector is not valid for IPPool nodeSelector - use all() instead')],
    message: "error with field IPPool.Spec.NodeSelector = 'global()' (global() selector is not valid for IPPool nodeSelector - use all() instead)",
  },
  {
    name: 'node selector with a syntax error',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/16', nodeSelector: "rack == 'r1' &&" },
    errors: [fe('IPPool.Spec.NodeSelector', 'spec.nodeSelector', "rack == 'r1' &&", 'invalid selector: unexpected token: TokEOF() at column 16 of selector "rack == \'r1\' &&"')],
    message: "error with field IPPool.Spec.NodeSelector = 'rack == 'r1' &&' (invalid selector: unexpected token: TokEOF() at column 16 of selector \"rack == 'r1' &&\")",
  },
  {
    name: 'namespace selector with the default uses (Workload and Tunnel)',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/16', namespaceSelector: "name == 'dev'" },
    errors: [
      fe(
        'IPPool.Spec.NamespaceSelector',
        'spec.namespaceSelector',
        "name == 'dev'",
        'IP Pool with AllowedUse Tunnel cannot have namespaceSelector specified - tunnel IPs are not namespaced resources; set allowedUses: [Workload] to use a namespaceSelector',
      ),
    ],
    message:
      "error with field IPPool.Spec.NamespaceSelector = 'name == 'dev'' (IP Pool with AllowedUse Tunnel cannot have namespaceSelector specified - tunnel IPs are not namespaced resources; set allowedUses: [Workload] to use a namespaceSelector)",
  },
  {
    name: 'unknown allowed use',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/16', allowedUses: ['Workload', 'Pods'] },
    errors: [fe('IPPool.Spec.AllowedUses[1]', 'spec.allowedUses[1]', 'Pods', 'unknown use: Pods')],
    message: "error with field IPPool.Spec.AllowedUses[1] = 'Pods' (unknown use: Pods)",
  },
  {
    name: 'LoadBalancer with Workload, a node selector and disableBGPExport',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/16', allowedUses: ['LoadBalancer', 'Workload'], nodeSelector: 'has(edge)', disableBGPExport: true },
    errors: [
      fe('IPPool.Spec.AllowedUses', 'spec.allowedUses', 'Workload', 'LoadBalancer cannot be used at the same time as: Workload'),
      fe('IPPool.Spec.NodeSelector', 'spec.nodeSelector', 'has(edge)', 'IP Pool with AllowedUse LoadBalancer must have node selector set to all()'),
      fe(
        'IPPool.Spec.DisableBGPExport',
        'spec.disableBGPExport',
        'true',
        'IP Pool with AllowedUse LoadBalancer must not set disableBGPExport: load-balancer addresses are announced over BGP',
      ),
    ],
    message:
      'error with the following fields:\n' +
      "-  IPPool.Spec.AllowedUses = 'Workload' (LoadBalancer cannot be used at the same time as: Workload)\n" +
      "-  IPPool.Spec.NodeSelector = 'has(edge)' (IP Pool with AllowedUse LoadBalancer must have node selector set to all())\n" +
      "-  IPPool.Spec.DisableBGPExport = 'true' (IP Pool with AllowedUse LoadBalancer must not set disableBGPExport: load-balancer addresses are announced over BGP)\n",
  },
  {
    name: 'LoadBalancer with IPIP',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/16', allowedUses: ['LoadBalancer'], ipipMode: 'Always' },
    errors: [fe('IPPool.Spec.AllowedUses', 'spec.allowedUses', undefined, 'IP Pool with AllowedUse LoadBalancer cannot use IPIP or VXLAN')],
    message: 'error with field IPPool.Spec.AllowedUses (IP Pool with AllowedUse LoadBalancer cannot use IPIP or VXLAN)',
  },
  {
    name: 'assignment mode not Automatic or Manual',
    kind: 'IPPool',
    spec: { cidr: '10.0.0.0/16', assignmentMode: 'Auto' },
    errors: [fe('IPPool.Spec.AssignmentMode', 'spec.assignmentMode', 'Auto', 'must be one of Automatic, Manual')],
    message: "error with field IPPool.Spec.AssignmentMode = 'Auto' (must be one of Automatic, Manual)",
  },
  {
    name: 'update changing CIDR and block size',
    kind: 'IPPool',
    op: 'update',
    previous: { cidr: '10.0.0.0/16' },
    spec: { cidr: '10.1.0.0/16', blockSize: 24 },
    errors: [
      fe('IPPool.Spec.CIDR', 'spec.cidr', '10.1.0.0/16', `IPPool CIDR cannot be modified (it is 10.0.0.0/16); ${MIGRATE}`),
      fe('IPPool.Spec.BlockSize', 'spec.blockSize', '24', 'IPPool BlockSize cannot be modified (it is 26); to use another block size, create a new pool and migrate to it'),
    ],
    message:
      'error with the following fields:\n' +
      `-  IPPool.Spec.CIDR = '10.1.0.0/16' (IPPool CIDR cannot be modified (it is 10.0.0.0/16); ${MIGRATE})\n` +
      "-  IPPool.Spec.BlockSize = '24' (IPPool BlockSize cannot be modified (it is 26); to use another block size, create a new pool and migrate to it)\n",
  },
  {
    name: 'update of an IPv6 pool to another CIDR, the default block size kept',
    kind: 'IPPool',
    op: 'update',
    previous: { cidr: 'fd00::/64' },
    spec: { cidr: 'fd01::/64' },
    errors: [fe('IPPool.Spec.CIDR', 'spec.cidr', 'fd01::/64', `IPPool CIDR cannot be modified (it is fd00::/64); ${MIGRATE}`)],
    message: `error with field IPPool.Spec.CIDR = 'fd01::/64' (IPPool CIDR cannot be modified (it is fd00::/64); ${MIGRATE})`,
  },
  {
    name: 'update from LoadBalancer to Workload',
    kind: 'IPPool',
    op: 'update',
    previous: { cidr: '10.0.0.0/16', allowedUses: ['LoadBalancer'] },
    spec: { cidr: '10.0.0.0/16', allowedUses: ['Workload'] },
    errors: [fe('IPPool.Spec.AllowedUses', 'spec.allowedUses', undefined, 'IPPool allowed use cannot be changed from LoadBalacer to Workload or Tunnel')],
    message: 'error with field IPPool.Spec.AllowedUses (IPPool allowed use cannot be changed from LoadBalacer to Workload or Tunnel)',
  },
];

const bgpPeerCases: Case[] = [
  {
    name: 'peerIP and peerSelector together',
    kind: 'BGPPeer',
    spec: { peerIP: '10.0.0.1', peerSelector: 'has(rr)' },
    errors: [fe('BGPPeer.Spec.PeerIP', 'spec.peerIP', '10.0.0.1', 'PeerIP field must be empty when PeerSelector is specified')],
    message: "error with field BGPPeer.Spec.PeerIP = '10.0.0.1' (PeerIP field must be empty when PeerSelector is specified)",
  },
  {
    name: 'asNumber with peerSelector',
    kind: 'BGPPeer',
    spec: { peerSelector: 'has(rr)', asNumber: 64512 },
    errors: [fe('BGPPeer.Spec.ASNumber', 'spec.asNumber', '64512', 'ASNumber field must be empty when PeerSelector is specified')],
    message: "error with field BGPPeer.Spec.ASNumber = '64512' (ASNumber field must be empty when PeerSelector is specified)",
  },
  {
    name: 'node and nodeSelector together',
    kind: 'BGPPeer',
    spec: { node: 'node1', nodeSelector: 'has(rack)', peerIP: '10.0.0.1' },
    errors: [fe('BGPPeer.Spec.Node', 'spec.node', 'node1', 'Node field must be empty when NodeSelector is specified')],
    message: "error with field BGPPeer.Spec.Node = 'node1' (Node field must be empty when NodeSelector is specified)",
  },
  {
    name: 'node that is not a node name',
    kind: 'BGPPeer',
    spec: { node: 'Node_1', peerIP: '10.0.0.1' },
    errors: [fe('BGPPeer.Spec.Node', 'spec.node', 'Node_1', DNS_NAME)],
    message: `error with field BGPPeer.Spec.Node = 'Node_1' (${DNS_NAME})`,
  },
  {
    name: 'selectors with syntax errors, each with its column',
    kind: 'BGPPeer',
    spec: { nodeSelector: 'has(i-am-a-route-reflector', peerSelector: 'rack == r1' },
    errors: [
      fe('BGPPeer.Spec.NodeSelector', 'spec.nodeSelector', 'has(i-am-a-route-reflector', 'invalid selector: no closing \')\' after has( at column 27 of selector "has(i-am-a-route-reflector"'),
      fe('BGPPeer.Spec.PeerSelector', 'spec.peerSelector', 'rack == r1', 'invalid selector: expected string at column 9 of selector "rack == r1"'),
    ],
    message:
      'error with the following fields:\n' +
      "-  BGPPeer.Spec.NodeSelector = 'has(i-am-a-route-reflector' (invalid selector: no closing ')' after has( at column 27 of selector \"has(i-am-a-route-reflector\")\n" +
      "-  BGPPeer.Spec.PeerSelector = 'rack == r1' (invalid selector: expected string at column 9 of selector \"rack == r1\")\n",
  },
  ...['[fd00::1]', '10.0.0.1:0', '10.0.0.1:65536', '10.0.0.256', '10.0.0.1/32', 'fd00::1%eth0', 'router1', '10.0.0.1:', '10.0.0.1:-1'].map(
    (peerIP): Case => ({
      name: `peerIP ${peerIP}`,
      kind: 'BGPPeer',
      spec: { peerIP, asNumber: 64512 },
      errors: [fe('BGPPeer.Spec.PeerIP', 'spec.peerIP', peerIP, PEER_IP)],
      message: `error with field BGPPeer.Spec.PeerIP = '${peerIP}' (${PEER_IP})`,
    }),
  ),
  {
    name: 'reachableBy without peerIP',
    kind: 'BGPPeer',
    spec: { peerSelector: 'has(rr)', reachableBy: '10.0.0.254' },
    errors: [fe('BGPPeer.Spec.ReachableBy', 'spec.reachableBy', '10.0.0.254', 'ReachablyBy field must be empty when PeerIP is empty')],
    message: "error with field BGPPeer.Spec.ReachableBy = '10.0.0.254' (ReachablyBy field must be empty when PeerIP is empty)",
  },
  {
    name: 'reachableBy not an address',
    kind: 'BGPPeer',
    spec: { peerIP: '10.0.0.1', reachableBy: 'gateway' },
    errors: [fe('BGPPeer.Spec.ReachableBy', 'spec.reachableBy', 'gateway', 'ReachableBy is invalid address')],
    message: "error with field BGPPeer.Spec.ReachableBy = 'gateway' (ReachableBy is invalid address)",
  },
  {
    name: 'reachableBy of the other family',
    kind: 'BGPPeer',
    spec: { peerIP: 'fd00::1', reachableBy: '10.0.0.254' },
    errors: [fe('BGPPeer.Spec.ReachableBy', 'spec.reachableBy', '10.0.0.254', 'ReachableBy and PeerIP address family mismatched')],
    message: "error with field BGPPeer.Spec.ReachableBy = '10.0.0.254' (ReachableBy and PeerIP address family mismatched)",
  },
  {
    name: 'localWorkloadSelector without asNumber, with peerIP and peerSelector',
    kind: 'BGPPeer',
    spec: { localWorkloadSelector: 'has(bgp)', peerIP: '10.0.0.1', peerSelector: 'has(rr)' },
    errors: [
      fe('BGPPeer.Spec.PeerIP', 'spec.peerIP', '10.0.0.1', 'PeerIP field must be empty when PeerSelector is specified'),
      fe('BGPPeer.Spec.ASNumber', 'spec.asNumber', undefined, 'ASNumber field must NOT be empty when LocalWorkloadSelector is specified'),
      fe('BGPPeer.Spec.PeerIP', 'spec.peerIP', '10.0.0.1', 'PeerIP field must be empty when LocalWorkloadSelector is specified'),
      fe('BGPPeer.Spec.PeerSelector', 'spec.peerSelector', 'has(rr)', 'PeerSelector field must be empty when LocalWorkloadSelector is specified'),
      fe('BGPPeer.Spec.LocalWorkloadSelector', 'spec.localWorkloadSelector', 'has(bgp)', 'not supported by Tabby: Tabby has no local-workload peering'),
    ],
    message:
      'error with the following fields:\n' +
      "-  BGPPeer.Spec.PeerIP = '10.0.0.1' (PeerIP field must be empty when PeerSelector is specified)\n" +
      '-  BGPPeer.Spec.ASNumber (ASNumber field must NOT be empty when LocalWorkloadSelector is specified)\n' +
      "-  BGPPeer.Spec.PeerIP = '10.0.0.1' (PeerIP field must be empty when LocalWorkloadSelector is specified)\n" +
      "-  BGPPeer.Spec.PeerSelector = 'has(rr)' (PeerSelector field must be empty when LocalWorkloadSelector is specified)\n" +
      "-  BGPPeer.Spec.LocalWorkloadSelector = 'has(bgp)' (not supported by Tabby: Tabby has no local-workload peering)\n",
  },
  {
    name: 'keepOriginalNextHop with nextHopMode',
    kind: 'BGPPeer',
    spec: { peerIP: '10.0.0.1', keepOriginalNextHop: true, nextHopMode: 'Self' },
    errors: [
      fe('BGPPeer.Spec.KeepOriginalNextHop', 'spec.keepOriginalNextHop', 'true', 'The KeepOriginalNextHop field is deprecated. It must not be set to true when NextHopMode is configured.'),
    ],
    message:
      "error with field BGPPeer.Spec.KeepOriginalNextHop = 'true' (The KeepOriginalNextHop field is deprecated. It must not be set to true when NextHopMode is configured.)",
  },
  {
    name: 'enumerations in the wrong case',
    kind: 'BGPPeer',
    spec: { peerIP: '10.0.0.1', nextHopMode: 'self', sourceAddress: 'useNodeIP', reversePeering: 'manual' },
    errors: [
      fe('BGPPeer.Spec.NextHopMode', 'spec.nextHopMode', 'self', 'must be one of Auto, Self, Keep'),
      fe('BGPPeer.Spec.SourceAddress', 'spec.sourceAddress', 'useNodeIP', 'must be one of UseNodeIP, None'),
      fe('BGPPeer.Spec.ReversePeering', 'spec.reversePeering', 'manual', 'must be one of Auto, Manual'),
    ],
    message:
      'error with the following fields:\n' +
      "-  BGPPeer.Spec.NextHopMode = 'self' (must be one of Auto, Self, Keep)\n" +
      "-  BGPPeer.Spec.SourceAddress = 'useNodeIP' (must be one of UseNodeIP, None)\n" +
      "-  BGPPeer.Spec.ReversePeering = 'manual' (must be one of Auto, Manual)\n",
  },
  {
    name: 'password without a key, durations that are not durations',
    kind: 'BGPPeer',
    spec: { peerIP: '10.0.0.1', password: { secretKeyRef: { name: 'bgp-secrets' } }, maxRestartTime: '2 minutes', keepaliveTime: '30' },
    errors: [
      fe('BGPPeer.Spec.Password.SecretKeyRef.Key', 'spec.password.secretKeyRef.key', undefined, 'must be set'),
      fe('BGPPeer.Spec.MaxRestartTime', 'spec.maxRestartTime', '2 minutes', 'must be a duration such as 120s, 1m30s or 2h'),
      fe('BGPPeer.Spec.KeepaliveTime', 'spec.keepaliveTime', '30', 'must be a duration such as 120s, 1m30s or 2h'),
    ],
    message:
      'error with the following fields:\n' +
      '-  BGPPeer.Spec.Password.SecretKeyRef.Key (must be set)\n' +
      "-  BGPPeer.Spec.MaxRestartTime = '2 minutes' (must be a duration such as 120s, 1m30s or 2h)\n" +
      "-  BGPPeer.Spec.KeepaliveTime = '30' (must be a duration such as 120s, 1m30s or 2h)\n",
  },
  {
    name: 'password with no secret reference',
    kind: 'BGPPeer',
    spec: { peerIP: '10.0.0.1', password: {} },
    errors: [fe('BGPPeer.Spec.Password.SecretKeyRef', 'spec.password.secretKeyRef', undefined, 'must be set')],
    message: 'error with field BGPPeer.Spec.Password.SecretKeyRef (must be set)',
  },
  {
    name: 'numAllowedLocalASNumbers above 10',
    kind: 'BGPPeer',
    spec: { peerIP: '10.0.0.1', numAllowedLocalASNumbers: 11 },
    errors: [fe('BGPPeer.Spec.NumAllowedLocalASNumbers', 'spec.numAllowedLocalASNumbers', '11', 'must be from 0 to 10')],
    message: "error with field BGPPeer.Spec.NumAllowedLocalASNumbers = '11' (must be from 0 to 10)",
  },
];

const nodeCases: Case[] = [
  {
    name: 'bgp present but empty',
    kind: 'Node',
    spec: { bgp: {} },
    errors: [fe('BGP', 'spec.bgp', undefined, 'Spec.BGP should not be empty')],
    message: 'error with field BGP (Spec.BGP should not be empty)',
  },
  ...['224.0.0', '224.0.0.1/32', 'fd00::1', 'cluster-1'].map(
    (id): Case => ({
      name: `routeReflectorClusterID ${id}`,
      kind: 'Node',
      spec: { bgp: { routeReflectorClusterID: id } },
      errors: [fe('Node.Spec.BGP.RouteReflectorClusterID', 'spec.bgp.routeReflectorClusterID', id, 'must be an IPv4 dotted quad such as 224.0.0.1')],
      message: `error with field Node.Spec.BGP.RouteReflectorClusterID = '${id}' (must be an IPv4 dotted quad such as 224.0.0.1)`,
    }),
  ),
  {
    name: 'BGP addresses of the wrong family, tunnel address with a prefix',
    kind: 'Node',
    spec: { bgp: { ipv4Address: 'fd00::5/64', ipv6Address: '10.0.0.5/24', ipv4IPIPTunnelAddr: '10.0.0.1/32' } },
    errors: [
      fe('Node.Spec.BGP.IPv4Address', 'spec.bgp.ipv4Address', 'fd00::5/64', 'must be an IPv4 address, optionally with a prefix length (e.g. 10.0.0.5/24)'),
      fe('Node.Spec.BGP.IPv6Address', 'spec.bgp.ipv6Address', '10.0.0.5/24', 'must be an IPv6 address, optionally with a prefix length (e.g. fd00::5/64)'),
      fe('Node.Spec.BGP.IPv4IPIPTunnelAddr', 'spec.bgp.ipv4IPIPTunnelAddr', '10.0.0.1/32', 'must be an IPv4 address'),
    ],
    message:
      'error with the following fields:\n' +
      "-  Node.Spec.BGP.IPv4Address = 'fd00::5/64' (must be an IPv4 address, optionally with a prefix length (e.g. 10.0.0.5/24))\n" +
      "-  Node.Spec.BGP.IPv6Address = '10.0.0.5/24' (must be an IPv6 address, optionally with a prefix length (e.g. fd00::5/64))\n" +
      "-  Node.Spec.BGP.IPv4IPIPTunnelAddr = '10.0.0.1/32' (must be an IPv4 address)\n",
  },
  {
    name: 'VXLAN tunnel MAC, addresses, orchestrator refs, interfaces',
    kind: 'Node',
    spec: {
      vxlanTunnelMACAddr: '66:1f:4b:6e:51',
      addresses: [{ address: '10.0.0.5/24', type: 'Internal' }],
      orchRefs: [{ nodeName: 'node1' }],
      interfaces: [{ name: '*', addresses: ['10.0.0.5'] }],
    },
    errors: [
      fe('Node.Spec.VXLANTunnelMACAddr', 'spec.vxlanTunnelMACAddr', '66:1f:4b:6e:51', 'must be a MAC address such as 66:1f:4b:6e:51:19'),
      fe('Node.Spec.OrchRefs[0].Orchestrator', 'spec.orchRefs[0].orchestrator', undefined, 'must be set'),
      fe('Node.Spec.Addresses[0].Address', 'spec.addresses[0].address', '10.0.0.5/24', 'CIDR has host bits set; did you mean 10.0.0.0/24?'),
      fe('Node.Spec.Addresses[0].Type', 'spec.addresses[0].type', 'Internal', 'must be one of CalicoNodeIP, InternalIP, ExternalIP'),
      fe('Node.Spec.Interfaces[0].Name', 'spec.interfaces[0].name', '*', "must be 1-15 characters of letters, digits, '_', '.', '-' or '*' (and not just '*')"),
    ],
    message:
      'error with the following fields:\n' +
      "-  Node.Spec.VXLANTunnelMACAddr = '66:1f:4b:6e:51' (must be a MAC address such as 66:1f:4b:6e:51:19)\n" +
      '-  Node.Spec.OrchRefs[0].Orchestrator (must be set)\n' +
      "-  Node.Spec.Addresses[0].Address = '10.0.0.5/24' (CIDR has host bits set; did you mean 10.0.0.0/24?)\n" +
      "-  Node.Spec.Addresses[0].Type = 'Internal' (must be one of CalicoNodeIP, InternalIP, ExternalIP)\n" +
      "-  Node.Spec.Interfaces[0].Name = '*' (must be 1-15 characters of letters, digits, '_', '.', '-' or '*' (and not just '*'))\n",
  },
];

const secret = { secretKeyRef: { name: 'bgp-secrets', key: 'mesh' } };
const bgpConfigurationCases: Case[] = [
  {
    name: 'default-only fields on node.x',
    kind: 'BGPConfiguration',
    metadata: { name: 'node.node1' },
    spec: {
      nodeToNodeMeshEnabled: true,
      asNumber: 0,
      serviceClusterIPs: [{ cidr: '10.96.0.0/12' }],
      serviceExternalIPs: [{ cidr: '192.0.2.0/24' }],
      serviceLoadBalancerIPs: [{ cidr: '198.51.100.0/24' }],
      nodeMeshPassword: secret,
      nodeMeshMaxRestartTime: '120s',
      listenPort: 1790,
      logSeverityScreen: 'Debug',
    },
    errors: [
      fe('BGPConfiguration.Spec.NodeToNodeMeshEnabled', 'spec.nodeToNodeMeshEnabled', undefined, 'Cannot set nodeToNodeMeshEnabled on a non default BGP Configuration.'),
      fe('BGPConfiguration.Spec.ASNumber', 'spec.asNumber', undefined, 'Cannot set ASNumber on a non default BGP Configuration.'),
      fe('BGPConfiguration.Spec.ServiceLoadBalancerIPs', 'spec.serviceLoadBalancerIPs', undefined, 'Cannot set ServiceLoadBalancerIPs on a non default BGP Configuration.'),
      fe('BGPConfiguration.Spec.ServiceExternalIPs', 'spec.serviceExternalIPs', undefined, 'Cannot set ServiceExternalIPs on a non default BGP Configuration.'),
      fe('BGPConfiguration.Spec.ServiceClusterIPs', 'spec.serviceClusterIPs', undefined, 'Cannot set ServiceClusterIPs on a non default BGP Configuration.'),
      fe('BGPConfiguration.Spec.NodeMeshPassword', 'spec.nodeMeshPassword', undefined, 'Cannot set nodeMeshPassword on a non default BGP Configuration.'),
      fe('BGPConfiguration.Spec.NodeMeshMaxRestartTime', 'spec.nodeMeshMaxRestartTime', undefined, 'Cannot set nodeMeshMaxRestartTime on a non default BGP Configuration.'),
    ],
    message:
      'error with the following fields:\n' +
      '-  BGPConfiguration.Spec.NodeToNodeMeshEnabled (Cannot set nodeToNodeMeshEnabled on a non default BGP Configuration.)\n' +
      '-  BGPConfiguration.Spec.ASNumber (Cannot set ASNumber on a non default BGP Configuration.)\n' +
      '-  BGPConfiguration.Spec.ServiceLoadBalancerIPs (Cannot set ServiceLoadBalancerIPs on a non default BGP Configuration.)\n' +
      '-  BGPConfiguration.Spec.ServiceExternalIPs (Cannot set ServiceExternalIPs on a non default BGP Configuration.)\n' +
      '-  BGPConfiguration.Spec.ServiceClusterIPs (Cannot set ServiceClusterIPs on a non default BGP Configuration.)\n' +
      '-  BGPConfiguration.Spec.NodeMeshPassword (Cannot set nodeMeshPassword on a non default BGP Configuration.)\n' +
      '-  BGPConfiguration.Spec.NodeMeshMaxRestartTime (Cannot set nodeMeshMaxRestartTime on a non default BGP Configuration.)\n',
  },
  {
    name: 'mesh password and restart time with the mesh disabled',
    kind: 'BGPConfiguration',
    metadata: { name: 'default' },
    spec: { nodeToNodeMeshEnabled: false, nodeMeshPassword: secret, nodeMeshMaxRestartTime: '120s' },
    errors: [
      fe('BGPConfiguration.Spec.NodeMeshPassword', 'spec.nodeMeshPassword', undefined, 'spec.NodeMeshPassword cannot be set if spec.NodeToNodeMesh is disabled'),
      fe('BGPConfiguration.Spec.NodeMeshMaxRestartTime', 'spec.nodeMeshMaxRestartTime', '120s', 'spec.NodeMeshMaxRestartTime cannot be set if spec.NodeToNodeMesh is disabled'),
    ],
    message:
      'error with the following fields:\n' +
      '-  BGPConfiguration.Spec.NodeMeshPassword (spec.NodeMeshPassword cannot be set if spec.NodeToNodeMesh is disabled)\n' +
      "-  BGPConfiguration.Spec.NodeMeshMaxRestartTime = '120s' (spec.NodeMeshMaxRestartTime cannot be set if spec.NodeToNodeMesh is disabled)\n",
  },
  {
    name: 'community values: 16-bit and 32-bit ranges, format, names',
    kind: 'BGPConfiguration',
    metadata: { name: 'default' },
    spec: {
      communities: [
        { name: 'big', value: '65536:1' },
        { name: 'large', value: '1:2:4294967296' },
        { name: 'short', value: '100' },
        { name: '', value: '100:1' },
        { name: 'Upper', value: '100:2' },
      ],
      prefixAdvertisements: [{ cidr: '10.0.0.0/8', communities: ['big'] }],
    },
    errors: [
      fe('BGPConfiguration.Spec.Communities[0].Value', 'spec.communities[0].value', '65536:1', 'invalid community value, expected 16 bit value'),
      fe('BGPConfiguration.Spec.Communities[1].Value', 'spec.communities[1].value', '1:2:4294967296', 'invalid community value, expected 32 bit value'),
      fe('BGPConfiguration.Spec.Communities[2].Value', 'spec.communities[2].value', '100', 'invalid community value or format used.'),
      fe('BGPConfiguration.Spec.Communities[3].Name', 'spec.communities[3].name', undefined, 'must be set'),
      fe('BGPConfiguration.Spec.Communities[4].Name', 'spec.communities[4].name', 'Upper', 'must be a lower case DNS name'),
    ],
    message:
      'error with the following fields:\n' +
      "-  BGPConfiguration.Spec.Communities[0].Value = '65536:1' (invalid community value, expected 16 bit value)\n" +
      "-  BGPConfiguration.Spec.Communities[1].Value = '1:2:4294967296' (invalid community value, expected 32 bit value)\n" +
      "-  BGPConfiguration.Spec.Communities[2].Value = '100' (invalid community value or format used.)\n" +
      '-  BGPConfiguration.Spec.Communities[3].Name (must be set)\n' +
      "-  BGPConfiguration.Spec.Communities[4].Name = 'Upper' (must be a lower case DNS name)\n",
  },
  {
    name: 'prefix advertisements: CIDR, undefined community, literal out of range',
    kind: 'BGPConfiguration',
    metadata: { name: 'default' },
    spec: {
      communities: [{ name: 'no-export', value: '65535:65281' }],
      prefixAdvertisements: [
        { cidr: '10.0.0.0/33', communities: ['no-export'] },
        { cidr: '', communities: ['noexport', '70000:1', '1:2:3'] },
      ],
    },
    errors: [
      fe('BGPConfiguration.Spec.PrefixAdvertisements[0].CIDR', 'spec.prefixAdvertisements[0].cidr', '10.0.0.0/33', 'invalid CIDR value.'),
      fe('BGPConfiguration.Spec.PrefixAdvertisements[1].CIDR', 'spec.prefixAdvertisements[1].cidr', '', 'invalid CIDR value.'),
      fe('BGPConfiguration.Spec.PrefixAdvertisements[1].Communities[0]', 'spec.prefixAdvertisements[1].communities[0]', 'noexport', 'community used is invalid or not defined.'),
      fe('BGPConfiguration.Spec.PrefixAdvertisements[1].Communities[1]', 'spec.prefixAdvertisements[1].communities[1]', '70000:1', 'invalid community value, expected 16 bit value'),
    ],
    message:
      'error with the following fields:\n' +
      "-  BGPConfiguration.Spec.PrefixAdvertisements[0].CIDR = '10.0.0.0/33' (invalid CIDR value.)\n" +
      "-  BGPConfiguration.Spec.PrefixAdvertisements[1].CIDR = '' (invalid CIDR value.)\n" +
      "-  BGPConfiguration.Spec.PrefixAdvertisements[1].Communities[0] = 'noexport' (community used is invalid or not defined.)\n" +
      "-  BGPConfiguration.Spec.PrefixAdvertisements[1].Communities[1] = '70000:1' (invalid community value, expected 16 bit value)\n",
  },
  {
    name: 'communities with no prefix advertisement',
    kind: 'BGPConfiguration',
    metadata: { name: 'default' },
    spec: { communities: [{ name: 'no-export', value: '65535:65281' }] },
    errors: [fe('BGPConfiguration.Spec.Communities', 'spec.communities', undefined, 'communities are defined but not used in Spec.PrefixAdvertisement[].')],
    message: 'error with field BGPConfiguration.Spec.Communities (communities are defined but not used in Spec.PrefixAdvertisement[].)',
  },
  {
    name: 'log severity, listen port, bind mode, aggregation in the wrong form',
    kind: 'BGPConfiguration',
    metadata: { name: 'default' },
    spec: { logSeverityScreen: 'info', listenPort: 0, bindMode: 'nodeIP', serviceLoadBalancerAggregation: 'On' },
    errors: [
      fe('BGPConfiguration.Spec.LogSeverityScreen', 'spec.logSeverityScreen', 'info', 'must be one of Trace, Debug, Info, Warning, Error, Fatal'),
      fe('BGPConfiguration.Spec.ServiceLoadBalancerAggregation', 'spec.serviceLoadBalancerAggregation', 'On', 'must be one of Enabled, Disabled'),
      fe('BGPConfiguration.Spec.ListenPort', 'spec.listenPort', '0', 'must be a port from 1 to 65535'),
      fe('BGPConfiguration.Spec.BindMode', 'spec.bindMode', 'nodeIP', 'must be one of None, NodeIP'),
    ],
    message:
      'error with the following fields:\n' +
      "-  BGPConfiguration.Spec.LogSeverityScreen = 'info' (must be one of Trace, Debug, Info, Warning, Error, Fatal)\n" +
      "-  BGPConfiguration.Spec.ServiceLoadBalancerAggregation = 'On' (must be one of Enabled, Disabled)\n" +
      "-  BGPConfiguration.Spec.ListenPort = '0' (must be a port from 1 to 65535)\n" +
      "-  BGPConfiguration.Spec.BindMode = 'nodeIP' (must be one of None, NodeIP)\n",
  },
  {
    name: 'service CIDRs, ignored interfaces, local workload peering addresses, restart time',
    kind: 'BGPConfiguration',
    metadata: { name: 'default' },
    spec: {
      serviceClusterIPs: [{ cidr: '10.96.0.1/12' }],
      serviceExternalIPs: [{ cidr: 'any' }],
      ignoredInterfaces: ['*', 'eth0', 'a-very-long-name0'],
      localWorkloadPeeringIPV4: 'fd00::1',
      localWorkloadPeeringIPV6: '169.254.0.1',
      nodeMeshMaxRestartTime: '2m30',
    },
    errors: [
      fe('BGPConfiguration.Spec.ServiceClusterIPs[0].CIDR', 'spec.serviceClusterIPs[0].cidr', '10.96.0.1/12', 'CIDR has host bits set; did you mean 10.96.0.0/12?'),
      fe('BGPConfiguration.Spec.ServiceExternalIPs[0].CIDR', 'spec.serviceExternalIPs[0].cidr', 'any', 'must be an IP address or a CIDR'),
      fe('BGPConfiguration.Spec.NodeMeshMaxRestartTime', 'spec.nodeMeshMaxRestartTime', '2m30', 'must be a duration such as 120s, 1m30s or 2h'),
      fe('BGPConfiguration.Spec.IgnoredInterfaces[0]', 'spec.ignoredInterfaces[0]', '*', "must be 1-15 characters of letters, digits, '_', '.', '-' or '*' (and not just '*')"),
      fe('BGPConfiguration.Spec.IgnoredInterfaces[2]', 'spec.ignoredInterfaces[2]', 'a-very-long-name0', "must be 1-15 characters of letters, digits, '_', '.', '-' or '*' (and not just '*')"),
      fe('BGPConfiguration.Spec.LocalWorkloadPeeringIPV4', 'spec.localWorkloadPeeringIPV4', 'fd00::1', 'must be an IPv4 address'),
      fe('BGPConfiguration.Spec.LocalWorkloadPeeringIPV6', 'spec.localWorkloadPeeringIPV6', '169.254.0.1', 'must be an IPv6 address'),
      fe('BGPConfiguration.Spec.IgnoredInterfaces', 'spec.ignoredInterfaces', '[* eth0 a-very-long-name0]', "not supported by Tabby: Tabby exports no interface routes (Calico's BIRD protocol direct), so there is nothing to ignore"),
      fe('BGPConfiguration.Spec.LocalWorkloadPeeringIPV4', 'spec.localWorkloadPeeringIPV4', 'fd00::1', 'not supported by Tabby: Tabby has no local-workload peering'),
      fe('BGPConfiguration.Spec.LocalWorkloadPeeringIPV6', 'spec.localWorkloadPeeringIPV6', '169.254.0.1', 'not supported by Tabby: Tabby has no local-workload peering'),
    ],
    message:
      'error with the following fields:\n' +
      "-  BGPConfiguration.Spec.ServiceClusterIPs[0].CIDR = '10.96.0.1/12' (CIDR has host bits set; did you mean 10.96.0.0/12?)\n" +
      "-  BGPConfiguration.Spec.ServiceExternalIPs[0].CIDR = 'any' (must be an IP address or a CIDR)\n" +
      "-  BGPConfiguration.Spec.NodeMeshMaxRestartTime = '2m30' (must be a duration such as 120s, 1m30s or 2h)\n" +
      "-  BGPConfiguration.Spec.IgnoredInterfaces[0] = '*' (must be 1-15 characters of letters, digits, '_', '.', '-' or '*' (and not just '*'))\n" +
      "-  BGPConfiguration.Spec.IgnoredInterfaces[2] = 'a-very-long-name0' (must be 1-15 characters of letters, digits, '_', '.', '-' or '*' (and not just '*'))\n" +
      "-  BGPConfiguration.Spec.LocalWorkloadPeeringIPV4 = 'fd00::1' (must be an IPv4 address)\n" +
      "-  BGPConfiguration.Spec.LocalWorkloadPeeringIPV6 = '169.254.0.1' (must be an IPv6 address)\n" +
      "-  BGPConfiguration.Spec.IgnoredInterfaces = '[* eth0 a-very-long-name0]' (not supported by Tabby: Tabby exports no interface routes (Calico's BIRD protocol direct), so there is nothing to ignore)\n" +
      "-  BGPConfiguration.Spec.LocalWorkloadPeeringIPV4 = 'fd00::1' (not supported by Tabby: Tabby has no local-workload peering)\n" +
      "-  BGPConfiguration.Spec.LocalWorkloadPeeringIPV6 = '169.254.0.1' (not supported by Tabby: Tabby has no local-workload peering)\n",
  },
];

const bgpFilterCases: Case[] = [
  {
    name: 'cidr of the other family, not masked, and an IP of the other family',
    kind: 'BGPFilter',
    spec: {
      exportV4: [
        { cidr: 'fd00::/64', matchOperator: 'In', action: 'Accept' },
        { cidr: '10.0.0.1/16', matchOperator: 'In', action: 'Accept' },
      ],
      importV6: [{ cidr: '10.0.0.1', matchOperator: 'Equal', action: 'Reject' }],
    },
    errors: [
      fe('BGPFilter.Spec.ExportV4[0].CIDR', 'spec.exportV4[0].cidr', 'fd00::/64', 'must be an IPv4 CIDR'),
      fe('BGPFilter.Spec.ExportV4[1].CIDR', 'spec.exportV4[1].cidr', '10.0.0.1/16', 'CIDR has host bits set; did you mean 10.0.0.0/16?'),
      fe('BGPFilter.Spec.ImportV6[0].CIDR', 'spec.importV6[0].cidr', '10.0.0.1', 'must be an IPv6 CIDR'),
    ],
    message:
      'error with the following fields:\n' +
      "-  BGPFilter.Spec.ExportV4[0].CIDR = 'fd00::/64' (must be an IPv4 CIDR)\n" +
      "-  BGPFilter.Spec.ExportV4[1].CIDR = '10.0.0.1/16' (CIDR has host bits set; did you mean 10.0.0.0/16?)\n" +
      "-  BGPFilter.Spec.ImportV6[0].CIDR = '10.0.0.1' (must be an IPv6 CIDR)\n",
  },
  {
    name: 'cidr without matchOperator (Calico: MatchOperator cannot be empty when CIDR is not)',
    kind: 'BGPFilter',
    spec: { importV4: [{ cidr: '10.0.0.0/8', action: 'Accept' }] },
    errors: [fe('BGPFilter.Spec.ImportV4[0].CIDR', 'spec.importV4[0].cidr', '10.0.0.0/8', 'MatchOperator cannot be empty when CIDR is not')],
    message: "error with field BGPFilter.Spec.ImportV4[0].CIDR = '10.0.0.0/8' (MatchOperator cannot be empty when CIDR is not)",
  },
  {
    name: 'matchOperator and prefixLength without cidr',
    kind: 'BGPFilter',
    spec: { exportV6: [{ matchOperator: 'NotIn', prefixLength: { min: 64 }, action: 'Reject' }] },
    errors: [
      fe('BGPFilter.Spec.ExportV6[0].MatchOperator', 'spec.exportV6[0].matchOperator', 'NotIn', 'CIDR cannot be empty when MatchOperator is not'),
      fe('BGPFilter.Spec.ExportV6[0].PrefixLength', 'spec.exportV6[0].prefixLength', '{min: 64}', 'CIDR cannot be empty when PrefixLength is not'),
    ],
    message:
      'error with the following fields:\n' +
      "-  BGPFilter.Spec.ExportV6[0].MatchOperator = 'NotIn' (CIDR cannot be empty when MatchOperator is not)\n" +
      "-  BGPFilter.Spec.ExportV6[0].PrefixLength = '{min: 64}' (CIDR cannot be empty when PrefixLength is not)\n",
  },
  {
    name: 'action missing, bad action, operator, source and interface',
    kind: 'BGPFilter',
    spec: {
      exportV4: [
        { source: 'RemotePeers' },
        { cidr: '10.0.0.0/8', matchOperator: 'Contains', source: 'Peers', interface: 'eth0/1', action: 'accept' },
      ],
    },
    errors: [
      fe('BGPFilter.Spec.ExportV4[0].Action', 'spec.exportV4[0].action', undefined, 'must be set (Accept or Reject)'),
      fe('BGPFilter.Spec.ExportV4[1].MatchOperator', 'spec.exportV4[1].matchOperator', 'Contains', 'must be one of Equal, NotEqual, In, NotIn'),
      fe('BGPFilter.Spec.ExportV4[1].Source', 'spec.exportV4[1].source', 'Peers', 'must be one of RemotePeers'),
      fe('BGPFilter.Spec.ExportV4[1].Interface', 'spec.exportV4[1].interface', 'eth0/1', "must be 1-15 characters of letters, digits, '_', '.', '-' or '*'"),
      fe('BGPFilter.Spec.ExportV4[1].Action', 'spec.exportV4[1].action', 'accept', 'must be one of Accept, Reject'),
    ],
    message:
      'error with the following fields:\n' +
      '-  BGPFilter.Spec.ExportV4[0].Action (must be set (Accept or Reject))\n' +
      "-  BGPFilter.Spec.ExportV4[1].MatchOperator = 'Contains' (must be one of Equal, NotEqual, In, NotIn)\n" +
      "-  BGPFilter.Spec.ExportV4[1].Source = 'Peers' (must be one of RemotePeers)\n" +
      "-  BGPFilter.Spec.ExportV4[1].Interface = 'eth0/1' (must be 1-15 characters of letters, digits, '_', '.', '-' or '*')\n" +
      "-  BGPFilter.Spec.ExportV4[1].Action = 'accept' (must be one of Accept, Reject)\n",
  },
  {
    name: 'an interface on an import rule (refused: peer routes have no interface in Tabby)',
    kind: 'BGPFilter',
    spec: { exportV4: [{ interface: 'eth*', action: 'Accept' }], importV6: [{ action: 'Accept' }, { interface: 'eth*', action: 'Reject' }] },
    errors: [
      fe(
        'BGPFilter.Spec.ImportV6[1].Interface',
        'spec.importV6[1].interface',
        'eth*',
        'not supported by Tabby: routes learned from BGP peers have no interface in Tabby, so an import rule with one could never match',
      ),
    ],
    message:
      "error with field BGPFilter.Spec.ImportV6[1].Interface = 'eth*' (not supported by Tabby: routes learned from BGP peers have no interface in Tabby, so an import rule with one could never match)",
  },
];

const metaCases: Case[] = [
  {
    name: 'name in upper case',
    kind: 'IPPool',
    metadata: { name: 'Pool1' },
    spec: { cidr: '10.0.0.0/16' },
    errors: [fe('Metadata.Name', 'metadata.name', 'Pool1', NAME_REGEX)],
    message: `error with field Metadata.Name = 'Pool1' (${NAME_REGEX})`,
  },
  {
    name: 'name with an underscore',
    kind: 'BGPPeer',
    metadata: { name: 'peer_1' },
    spec: { peerIP: '10.0.0.1' },
    errors: [fe('Metadata.Name', 'metadata.name', 'peer_1', NAME_REGEX)],
    message: `error with field Metadata.Name = 'peer_1' (${NAME_REGEX})`,
  },
  {
    name: 'name of 256 characters',
    kind: 'Node',
    metadata: { name: 'n'.repeat(256) },
    spec: {},
    errors: [fe('Metadata.Name', 'metadata.name', 'n'.repeat(256), 'name is too long by 3 bytes')],
    message: `error with field Metadata.Name = '${'n'.repeat(256)}' (name is too long by 3 bytes)`,
  },
  {
    name: 'name missing on create',
    kind: 'IPPool',
    metadata: {},
    spec: { cidr: '10.0.0.0/16' },
    errors: [fe('Metadata.Name', 'metadata.name', undefined, 'field must be set for a Create request')],
    message: 'error with field Metadata.Name (field must be set for a Create request)',
  },
  {
    name: 'name missing on update',
    kind: 'IPPool',
    metadata: {},
    op: 'update',
    spec: { cidr: '10.0.0.0/16' },
    errors: [fe('Metadata.Name', 'metadata.name', undefined, 'field must be set')],
    message: 'error with field Metadata.Name (field must be set)',
  },
  {
    name: 'generateName instead of a name',
    kind: 'IPPool',
    metadata: { generateName: 'pool-' },
    spec: { cidr: '10.0.0.0/16' },
    errors: [fe('Metadata.Name', 'metadata.generateName', undefined, 'field must be set for a Create request (GenerateName is not supported)')],
    message: 'error with field Metadata.Name (field must be set for a Create request (GenerateName is not supported))',
  },
  {
    name: 'create with a resourceVersion',
    kind: 'IPPool',
    metadata: { name: 'p', resourceVersion: '42' },
    spec: { cidr: '10.0.0.0/16' },
    errors: [fe('Metadata.ResourceVersion', 'metadata.resourceVersion', '42', 'field must not be set for a Create request')],
    message: "error with field Metadata.ResourceVersion = '42' (field must not be set for a Create request)",
  },
  {
    name: 'namespace on a cluster-scoped kind',
    kind: 'BGPPeer',
    metadata: { name: 'p', namespace: 'default' },
    spec: { peerIP: '10.0.0.1' },
    errors: [fe('Metadata.Namespace', 'metadata.namespace', 'default', 'namespace should not be specified for a non-namespaced resource. BGPPeer is not a namespaced resource')],
    message: "error with field Metadata.Namespace = 'default' (namespace should not be specified for a non-namespaced resource. BGPPeer is not a namespaced resource)",
  },
  {
    name: 'WorkloadEndpoint without a namespace',
    kind: 'WorkloadEndpoint',
    metadata: {},
    spec: pod,
    errors: [fe('Metadata.Namespace', 'metadata.namespace', undefined, 'namespace is not specified on namespaced resource')],
    message: 'error with field Metadata.Namespace (namespace is not specified on namespaced resource)',
  },
  {
    name: 'WorkloadEndpoint with a namespace that is not a name',
    kind: 'WorkloadEndpoint',
    metadata: { namespace: 'Kube_System' },
    spec: pod,
    errors: [fe('Metadata.Namespace', 'metadata.namespace', 'Kube_System', NAME_REGEX)],
    message: `error with field Metadata.Namespace = 'Kube_System' (${NAME_REGEX})`,
  },
  {
    name: 'label keys and values',
    kind: 'Node',
    metadata: {
      name: 'node1',
      labels: { 'a/b/c': 'x', '-rack': 'r1', 'example.com/': 'x', 'Example.com/rack': 'x', zone: 'eu west', ['k'.repeat(64)]: 'x', tier: 'v'.repeat(64) },
    },
    spec: {},
    errors: [
      fe(
        'Metadata.Labels (label)',
        'metadata.labels.a/b/c',
        'a/b/c',
        "a qualified name must consist of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
      ),
      fe('Metadata.Labels (label)', 'metadata.labels.-rack', '-rack', NAME_PART),
      fe('Metadata.Labels (label)', 'metadata.labels.example.com/', 'example.com/', 'name part must be non-empty'),
      fe('Metadata.Labels (label)', 'metadata.labels.Example.com/rack', 'Example.com/rack', 'prefix part must be a lowercase DNS-1123 subdomain'),
      fe('Metadata.Labels (value)', 'metadata.labels.zone', 'eu west', LABEL_VALUE),
      fe('Metadata.Labels (label)', `metadata.labels.${'k'.repeat(64)}`, 'k'.repeat(64), 'name part must be no more than 63 characters'),
      fe('Metadata.Labels (value)', 'metadata.labels.tier', 'v'.repeat(64), 'a label value must be no more than 63 characters'),
    ],
    message:
      'error with the following fields:\n' +
      "-  Metadata.Labels (label) = 'a/b/c' (a qualified name must consist of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName'))\n" +
      `-  Metadata.Labels (label) = '-rack' (${NAME_PART})\n` +
      "-  Metadata.Labels (label) = 'example.com/' (name part must be non-empty)\n" +
      "-  Metadata.Labels (label) = 'Example.com/rack' (prefix part must be a lowercase DNS-1123 subdomain)\n" +
      `-  Metadata.Labels (value) = 'eu west' (${LABEL_VALUE})\n` +
      `-  Metadata.Labels (label) = '${'k'.repeat(64)}' (name part must be no more than 63 characters)\n` +
      `-  Metadata.Labels (value) = '${'v'.repeat(64)}' (a label value must be no more than 63 characters)\n`,
  },
  {
    name: 'annotation key and total size',
    kind: 'Node',
    metadata: { name: 'node1', annotations: { 'bad key': 'x', note: 'n'.repeat(256 * 1024) } },
    spec: {},
    errors: [
      fe('Metadata.Annotations (key)', 'metadata.annotations.bad key', 'bad key', NAME_PART),
      fe('Metadata.Annotations', 'metadata.annotations', undefined, 'total size of annotations is too large by 12 bytes'),
    ],
    message:
      'error with the following fields:\n' +
      `-  Metadata.Annotations (key) = 'bad key' (${NAME_PART})\n` +
      '-  Metadata.Annotations (total size of annotations is too large by 12 bytes)\n',
  },
  {
    name: 'finalizer names: qualified names, each once',
    kind: 'Node',
    metadata: { name: 'node1', finalizers: ['example.com/holder', 'bad name', 'example.com/holder'] },
    spec: {},
    errors: [
      fe('Metadata.Finalizers', 'metadata.finalizers[1]', 'bad name', NAME_PART),
      fe('Metadata.Finalizers', 'metadata.finalizers[2]', 'example.com/holder', 'duplicate finalizer'),
    ],
    message:
      'error with the following fields:\n' +
      `-  Metadata.Finalizers = 'bad name' (${NAME_PART})\n` +
      "-  Metadata.Finalizers = 'example.com/holder' (duplicate finalizer)\n",
  },
];

const workloadEndpointCases: Case[] = [
  {
    name: 'name that does not match the identifiers',
    kind: 'WorkloadEndpoint',
    metadata: { name: 'node1-k8s-nginx-eth0', namespace: 'default' },
    spec: pod,
    errors: [
      fe(
        'Metadata.Name',
        'metadata.name',
        'node1-k8s-nginx-eth0',
        'the WorkloadEndpoint name does not match the primary identifiers assigned in the Spec: expected name node--1-k8s-nginx--abc-eth0',
      ),
    ],
    message:
      "error with field Metadata.Name = 'node1-k8s-nginx-eth0' (the WorkloadEndpoint name does not match the primary identifiers assigned in the Spec: expected name node--1-k8s-nginx--abc-eth0)",
  },
  {
    name: 'identifiers that cannot make a name',
    kind: 'WorkloadEndpoint',
    spec: { ...pod, node: 'node-1-', pod: '', endpoint: '-eth0' },
    errors: [
      fe('Metadata.Name', 'metadata.name', undefined, 'field must be set for a Create request'),
      fe('WorkloadEndpoint.Spec.Node', 'spec.node', 'node-1-', DNS_NAME),
      fe('WorkloadEndpoint.Spec.Endpoint', 'spec.endpoint', '-eth0', DNS_NAME),
      fe('WorkloadEndpoint.Spec.Node', 'spec.node', 'node-1-', "field must not end with a '-'"),
      fe('WorkloadEndpoint.Spec.Pod', 'spec.pod', undefined, 'field should be assigned'),
      fe('WorkloadEndpoint.Spec.Endpoint', 'spec.endpoint', '-eth0', "field must not begin with a '-'"),
    ],
    message:
      'error with the following fields:\n' +
      '-  Metadata.Name (field must be set for a Create request)\n' +
      `-  WorkloadEndpoint.Spec.Node = 'node-1-' (${DNS_NAME})\n` +
      `-  WorkloadEndpoint.Spec.Endpoint = '-eth0' (${DNS_NAME})\n` +
      "-  WorkloadEndpoint.Spec.Node = 'node-1-' (field must not end with a '-')\n" +
      '-  WorkloadEndpoint.Spec.Pod (field should be assigned)\n' +
      "-  WorkloadEndpoint.Spec.Endpoint = '-eth0' (field must not begin with a '-')\n",
  },
  {
    name: 'ipNetworks with several addresses, not masked, not a CIDR',
    kind: 'WorkloadEndpoint',
    spec: { ...pod, ipNetworks: ['10.0.24.0/24', '10.0.24.9/24', '10.0.24.10'] },
    errors: [
      fe('WorkloadEndpoint.Spec.IPNetworks[0]', 'spec.ipNetworks[0]', '10.0.24.0/24', 'IP network contains multiple addresses'),
      fe('WorkloadEndpoint.Spec.IPNetworks[1]', 'spec.ipNetworks[1]', '10.0.24.9/24', 'CIDR is not strictly masked'),
      fe('WorkloadEndpoint.Spec.IPNetworks[2]', 'spec.ipNetworks[2]', '10.0.24.10', 'must be a CIDR such as 10.0.0.1/32'),
    ],
    message:
      'error with the following fields:\n' +
      "-  WorkloadEndpoint.Spec.IPNetworks[0] = '10.0.24.0/24' (IP network contains multiple addresses)\n" +
      "-  WorkloadEndpoint.Spec.IPNetworks[1] = '10.0.24.9/24' (CIDR is not strictly masked)\n" +
      "-  WorkloadEndpoint.Spec.IPNetworks[2] = '10.0.24.10' (must be a CIDR such as 10.0.0.1/32)\n",
  },
  {
    name: 'NAT whose internal address is not one of the networks',
    kind: 'WorkloadEndpoint',
    spec: { ...pod, ipNATs: [{ internalIP: '10.0.24.9', externalIP: '203.0.113.7' }] },
    errors: [fe('WorkloadEndpoint.Spec.IPNATs[0].InternalIP', 'spec.ipNATs[0].internalIP', '10.0.24.9', 'NAT is not in the endpoint networks')],
    message: "error with field WorkloadEndpoint.Spec.IPNATs[0].InternalIP = '10.0.24.9' (NAT is not in the endpoint networks)",
  },
  {
    name: 'ports: no name without a host port, port 0, unknown protocol, bad host IP',
    kind: 'WorkloadEndpoint',
    spec: { ...pod, ports: [{ port: 80, protocol: 'TCP' }, { name: 'http', port: 0, protocol: 'HTTP', hostIP: 'localhost' }, { port: 53, protocol: 'UDP', hostPort: 5353 }] },
    errors: [
      fe('WorkloadEndpoint.Spec.Ports[0].Name', 'spec.ports[0].name', undefined, 'WorkloadEndpointPort name must not be empty if no HostPort is specified'),
      fe('WorkloadEndpoint.Spec.Ports[1].Port', 'spec.ports[1].port', '0', 'must be from 1 to 65535'),
      fe('WorkloadEndpoint.Spec.Ports[1].Protocol', 'spec.ports[1].protocol', 'HTTP', 'must be TCP, UDP, SCTP or a protocol number'),
      fe('WorkloadEndpoint.Spec.Ports[1].HostIP', 'spec.ports[1].hostIP', 'localhost', 'must be an IP address'),
    ],
    message:
      'error with the following fields:\n' +
      '-  WorkloadEndpoint.Spec.Ports[0].Name (WorkloadEndpointPort name must not be empty if no HostPort is specified)\n' +
      "-  WorkloadEndpoint.Spec.Ports[1].Port = '0' (must be from 1 to 65535)\n" +
      "-  WorkloadEndpoint.Spec.Ports[1].Protocol = 'HTTP' (must be TCP, UDP, SCTP or a protocol number)\n" +
      "-  WorkloadEndpoint.Spec.Ports[1].HostIP = 'localhost' (must be an IP address)\n",
  },
  {
    name: 'interface name missing',
    kind: 'WorkloadEndpoint',
    spec: { ...pod, interfaceName: '' },
    errors: [fe('WorkloadEndpoint.Spec.InterfaceName', 'spec.interfaceName', undefined, 'field must be set')],
    message: 'error with field WorkloadEndpoint.Spec.InterfaceName (field must be set)',
  },
  {
    name: 'interface name too long',
    kind: 'WorkloadEndpoint',
    spec: { ...pod, interfaceName: 'cali0ef24b1a1d1x' },
    errors: [fe('WorkloadEndpoint.Spec.InterfaceName', 'spec.interfaceName', 'cali0ef24b1a1d1x', "must be 1-15 characters of letters, digits, '_', '.' or '-'")],
    message: "error with field WorkloadEndpoint.Spec.InterfaceName = 'cali0ef24b1a1d1x' (must be 1-15 characters of letters, digits, '_', '.' or '-')",
  },
  {
    name: 'container ID, MAC, gateways, profiles',
    kind: 'WorkloadEndpoint',
    metadata: { namespace: 'default' },
    spec: { ...pod, orchestrator: 'cni', containerID: 'abc_123', mac: 'ee:ee:ee:ee:ee', ipv4Gateway: 'fd00::1', ipv6Gateway: '10.0.0.1', profiles: ['kns.default', 'Admin'] },
    errors: [
      fe('Metadata.Name', 'metadata.name', 'node--1-cni-abc_123-eth0', NAME_REGEX),
      fe('WorkloadEndpoint.Spec.ContainerID', 'spec.containerID', 'abc_123', 'must be letters, digits and -, starting and ending with a letter or digit'),
      fe('WorkloadEndpoint.Spec.IPv4Gateway', 'spec.ipv4Gateway', 'fd00::1', 'must be an IPv4 address'),
      fe('WorkloadEndpoint.Spec.IPv6Gateway', 'spec.ipv6Gateway', '10.0.0.1', 'must be an IPv6 address'),
      fe('WorkloadEndpoint.Spec.Profiles[1]', 'spec.profiles[1]', 'Admin', DNS_NAME),
      fe('WorkloadEndpoint.Spec.MAC', 'spec.mac', 'ee:ee:ee:ee:ee', 'must be a MAC address such as 66:1f:4b:6e:51:19'),
    ],
    message:
      'error with the following fields:\n' +
      `-  Metadata.Name = 'node--1-cni-abc_123-eth0' (${NAME_REGEX})\n` +
      "-  WorkloadEndpoint.Spec.ContainerID = 'abc_123' (must be letters, digits and -, starting and ending with a letter or digit)\n" +
      "-  WorkloadEndpoint.Spec.IPv4Gateway = 'fd00::1' (must be an IPv4 address)\n" +
      "-  WorkloadEndpoint.Spec.IPv6Gateway = '10.0.0.1' (must be an IPv6 address)\n" +
      `-  WorkloadEndpoint.Spec.Profiles[1] = 'Admin' (${DNS_NAME})\n` +
      "-  WorkloadEndpoint.Spec.MAC = 'ee:ee:ee:ee:ee' (must be a MAC address such as 66:1f:4b:6e:51:19)\n",
  },
];

const nodeStatusCases: Case[] = [
  {
    name: 'a report whose spec.node is not its name',
    kind: 'NodeStatus',
    metadata: { name: 'node1' },
    spec: { node: 'node2' },
    errors: [fe('NodeStatus.Spec.Node', 'spec.node', 'node2', 'must equal metadata.name (node1)')],
    message: "error with field NodeStatus.Spec.Node = 'node2' (must equal metadata.name (node1))",
  },
];

const ipamCases: Case[] = [
  {
    name: 'a reserved entry that is neither an address nor a CIDR',
    kind: 'IPReservation',
    spec: { reservedCIDRs: ['10.0.0.5', 'bad', '10.0.0.0/33', ''] },
    errors: [
      fe('IPReservation.Spec.ReservedCIDRs[1]', 'spec.reservedCIDRs[1]', 'bad', 'must be an IP address or a CIDR'),
      fe('IPReservation.Spec.ReservedCIDRs[2]', 'spec.reservedCIDRs[2]', '10.0.0.0/33', 'must be an IP address or a CIDR'),
      fe('IPReservation.Spec.ReservedCIDRs[3]', 'spec.reservedCIDRs[3]', undefined, 'must be an IP address or a CIDR'),
    ],
    message:
      "error with the following fields:\n-  IPReservation.Spec.ReservedCIDRs[1] = 'bad' (must be an IP address or a CIDR)\n-  IPReservation.Spec.ReservedCIDRs[2] = '10.0.0.0/33' (must be an IP address or a CIDR)\n-  IPReservation.Spec.ReservedCIDRs[3] (must be an IP address or a CIDR)\n",
  },
  {
    name: 'an IPAMConfiguration not named default',
    kind: 'IPAMConfiguration',
    metadata: { name: 'mine' },
    spec: { strictAffinity: true },
    errors: [fe('Metadata.Name', 'metadata.name', 'mine', 'Cannot create an IPAMConfiguration resource with a name other than "default"')],
    message: 'error with field Metadata.Name = \'mine\' (Cannot create an IPAMConfiguration resource with a name other than "default")',
  },
];

const cases: Case[] = [...ipamCases, ...ipPoolCases, ...bgpPeerCases, ...nodeCases, ...bgpConfigurationCases, ...bgpFilterCases, ...metaCases, ...workloadEndpointCases, ...nodeStatusCases];

function prepare(c: Pick<Case, 'kind' | 'metadata' | 'spec' | 'op' | 'previous'>) {
  const metadata = c.metadata ?? (c.kind === 'WorkloadEndpoint' ? { namespace: 'default' } : { name: 'x' });
  const resource = resourceOf(c.kind, metadata, c.spec);
  const previous = c.previous ? prepareResource(resourceOf(c.kind, metadata, c.previous), { op: 'create' }) : undefined;
  if (previous) expect(previous.errors).toEqual([]);
  return prepareResource(resource, { op: c.op ?? 'create', previous: previous?.resource });
}

describe('prepareResource: one case per rule', () => {
  it.each(cases.map((c) => [c.kind, c.name, c] as const))('%s: %s', (_kind, _name, c) => {
    const { errors } = prepare(c);
    expect(errors).toEqual(c.errors);
    expect(validationMessage(errors)).toBe(c.message);
    expect(new ValidationError(errors).message).toBe(c.message);
  });
});

/** Resources that come close to a rule without breaking it. */
const accepted: readonly (readonly [string, Pick<Case, 'kind' | 'metadata' | 'spec' | 'op' | 'previous'>])[] = [
  ['a pool smaller than its block when disabled', { kind: 'IPPool', spec: { cidr: '10.0.0.0/28', disabled: true } }],
  ['a pool exactly one block', { kind: 'IPPool', spec: { cidr: '10.0.0.0/26' } }],
  ['block size 20 and 32', { kind: 'IPPool', spec: { cidr: '10.0.0.0/16', blockSize: 20 } }],
  ['IPv6 block size 116', { kind: 'IPPool', spec: { cidr: 'fd00::/64', blockSize: 116 } }],
  ['VXLAN on IPv6', { kind: 'IPPool', spec: { cidr: 'fd00::/64', vxlanMode: 'Always' } }],
  ['a LoadBalancer pool', { kind: 'IPPool', spec: { cidr: '10.0.0.0/16', allowedUses: ['LoadBalancer'] } }],
  ['a namespace selector on a Workload-only pool', { kind: 'IPPool', spec: { cidr: '10.0.0.0/16', allowedUses: ['Workload'], namespaceSelector: "name == 'dev'" } }],
  ['update that disables a pool', { kind: 'IPPool', op: 'update', previous: { cidr: '10.0.0.0/16' }, spec: { cidr: '10.0.0.0/16', disabled: true } }],
  ['update writing the same IPv6 CIDR differently', { kind: 'IPPool', op: 'update', previous: { cidr: 'fd00:0::/64' }, spec: { cidr: 'FD00::/64', blockSize: 122 } }],
  ['peerIP with an IPv4 port', { kind: 'BGPPeer', spec: { peerIP: '10.0.0.1:1790', asNumber: 64512 } }],
  ['peerIP with an IPv6 port', { kind: 'BGPPeer', spec: { peerIP: '[fd00::1]:1790', asNumber: 64512 } }],
  ['peerIP ending in what looks like a port is an IPv6 address', { kind: 'BGPPeer', spec: { peerIP: 'fd00::1:179' } }],
  ['peerIP with port 65535', { kind: 'BGPPeer', spec: { peerIP: '10.0.0.1:65535' } }],
  ["peerIP [IPv4]:port, which Calico's IPv6 pattern also lets through", { kind: 'BGPPeer', spec: { peerIP: '[10.0.0.1]:179' } }],
  ['asNumber 0 with peerSelector is empty', { kind: 'BGPPeer', spec: { peerSelector: 'has(rr)', asNumber: 0 } }],
  ['reachableBy of the same family', { kind: 'BGPPeer', spec: { peerIP: '10.0.0.1', reachableBy: '10.0.0.254' } }],
  ['a node.x override with only per-node fields', { kind: 'BGPConfiguration', metadata: { name: 'node.node1' }, spec: { listenPort: 1790, logSeverityScreen: 'Debug' } }],
  [
    'communities, only some used, and a prefix advertisement of one address',
    {
      kind: 'BGPConfiguration',
      metadata: { name: 'default' },
      spec: {
        communities: [
          { name: 'no-export', value: '65535:65281' },
          { name: 'large', value: '4294967295:0:1' },
        ],
        prefixAdvertisements: [
          { cidr: '192.168.0.0/16', communities: ['no-export', '100:200', '1:2:3'] },
          { cidr: '10.0.0.1', communities: [] },
          { cidr: '10.1.2.3/16', communities: [] },
        ],
      },
    },
  ],
  ['mesh password with the mesh unset (on by default)', { kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { nodeMeshPassword: secret, nodeMeshMaxRestartTime: '1m30s' } }],
  [
    'a filter of every rule form',
    {
      kind: 'BGPFilter',
      spec: {
        exportV4: [
          { cidr: '10.0.0.0/8', matchOperator: 'In', prefixLength: { min: 16, max: 32 }, action: 'Accept' },
          { cidr: '0.0.0.0/0', matchOperator: 'Equal', prefixLength: { min: 0, max: 0 }, action: 'Reject' },
          { source: 'RemotePeers', interface: '*', action: 'Reject' },
        ],
        importV4: [{ cidr: '192.168.1.1', matchOperator: 'NotEqual', source: 'RemotePeers', action: 'Accept' }],
        exportV6: [{ cidr: 'fd00::/8', matchOperator: 'NotIn', prefixLength: { max: 128 }, action: 'Accept' }],
        importV6: [{ action: 'Reject' }],
      },
    },
  ],
  ['prefixLength min above max, which Calico does not check', { kind: 'BGPFilter', spec: { exportV4: [{ cidr: '10.0.0.0/8', matchOperator: 'In', prefixLength: { min: 24, max: 16 }, action: 'Accept' }] } }],
  ['an empty filter', { kind: 'BGPFilter', spec: {} }],
  ['reservations of single addresses, unmasked CIDRs and both families', { kind: 'IPReservation', spec: { reservedCIDRs: ['10.0.0.1', '10.0.1.7/24', 'fd00::1', 'fd00::/120'] } }],
  ['an empty reservation', { kind: 'IPReservation', spec: {} }],
  ['the default IPAMConfiguration with the largest block limit', { kind: 'IPAMConfiguration', metadata: { name: 'default' }, spec: { strictAffinity: true, maxBlocksPerHost: 2147483647, autoAllocateBlocks: false } }],
  ['a node with only an AS', { kind: 'Node', metadata: { name: 'node1' }, spec: { bgp: { asNumber: 64512 } } }],
  ['a port with a host port and no name', { kind: 'WorkloadEndpoint', spec: { ...pod, ports: [{ port: 53, hostPort: 5353, protocol: 'UDP' }] } }],
  ['interface name *', { kind: 'WorkloadEndpoint', spec: { ...pod, interfaceName: '*' } }],
  ['NAT inside an IPv6 network', { kind: 'WorkloadEndpoint', spec: { ...pod, ipNetworks: ['fd00::8/128'], ipNATs: [{ internalIP: 'fd00::8', externalIP: '2001:db8::8' }] } }],
];

describe('NodeStatus peers', () => {
  it('must be of their table family and one of the calicoctl peer types', () => {
    const r = parseOne(`apiVersion: projectcalico.org/v3
kind: NodeStatus
metadata: {name: node1}
spec: {node: node1}
status:
  bgp:
    peersV4: [{peerIP: 172.17.8.102, type: node-to-node mesh}, {peerIP: 'aa:bb::ff', type: global}]
    peersV6: [{peerIP: 'aa:bb::ff', type: node-specific}]
`).resource;
    expect(prepareResource(r, { op: 'update' }).errors).toEqual([
      fe('NodeStatus.Status.BGP.PeersV4[1].PeerIP', 'status.bgp.peersV4[1].peerIP', 'aa:bb::ff', 'must be an IPv4 address'),
      fe('NodeStatus.Status.BGP.PeersV6[0].Type', 'status.bgp.peersV6[0].type', 'node-specific', 'must be one of node-to-node mesh, global, node specific'),
    ]);
  });
});

describe('prepareResource: near misses are accepted', () => {
  it.each(accepted)('%s', (_name, c) => {
    expect(prepare(c).errors).toEqual([]);
  });
});

describe('IPReservation and IPAMConfiguration', () => {
  it('keeps reserved entries as written (host bits allowed)', () => {
    const { resource, errors } = prepare({ kind: 'IPReservation', spec: { reservedCIDRs: ['10.0.1.7/24', 'FD00::1'] } });
    expect(errors).toEqual([]);
    expect(resource.kind?.$case === 'ipReservation' && resource.kind.value.spec?.reservedCIDRs).toEqual(['10.0.1.7/24', 'FD00::1']);
  });

  it('defaults autoAllocateBlocks to true and keeps an explicit false', () => {
    const unset = prepare({ kind: 'IPAMConfiguration', metadata: { name: 'default' }, spec: { strictAffinity: true } }).resource;
    expect(unset.kind?.$case === 'ipamConfiguration' && unset.kind.value.spec).toEqual({ strictAffinity: true, maxBlocksPerHost: 0, autoAllocateBlocks: true });
    const off = prepare({ kind: 'IPAMConfiguration', metadata: { name: 'default' }, spec: { autoAllocateBlocks: false } }).resource;
    expect(off.kind?.$case === 'ipamConfiguration' && off.kind.value.spec?.autoAllocateBlocks).toBe(false);
  });

  it('refuses a negative maxBlocksPerHost in a manifest', () => {
    const result = parseManifest('apiVersion: projectcalico.org/v3\nkind: IPAMConfiguration\nmetadata: {name: default}\nspec: {maxBlocksPerHost: -1}\n');
    expect(result.resources).toEqual([]);
    expect(result.errors.map((e) => e.message).join('\n')).toMatch(/maxBlocksPerHost/);
  });
});

describe('WorkloadEndpoint names derived from the identifiers', () => {
  it.each([
    ['k8s', 'node--1-k8s-nginx--abc-eth0', { ...pod }],
    ['cni', 'node--1-cni-a1b2c3-eth0', { ...pod, orchestrator: 'cni', containerID: 'a1b2c3', pod: '' }],
    ['libnetwork', 'node--1-libnetwork-libnetwork-ep--1', { ...pod, orchestrator: 'libnetwork', pod: '', endpoint: 'ep-1' }],
    ['openstack', 'node--1-openstack-vm--7-tap0', { ...pod, orchestrator: 'openstack', workload: 'vm-7', pod: '', endpoint: 'tap0' }],
  ])('%s: %s, with the namespace and orchestrator labels', (orchestrator, name, spec) => {
    const p = prepareResource(resourceOf('WorkloadEndpoint', { namespace: 'kube-system' }, spec), { op: 'create' });
    expect(p.errors).toEqual([]);
    const meta = p.resource.kind?.value.metadata;
    expect(meta?.name).toBe(name);
    expect(meta?.labels).toEqual({ 'projectcalico.org/namespace': 'kube-system', 'projectcalico.org/orchestrator': orchestrator });
  });

  it('overwrites the namespace and orchestrator labels a manifest sets', () => {
    const p = prepareResource(resourceOf('WorkloadEndpoint', { namespace: 'default', labels: { 'projectcalico.org/namespace': 'other', app: 'web' } }, pod), { op: 'create' });
    expect(p.resource.kind?.value.metadata?.labels).toEqual({ 'projectcalico.org/namespace': 'default', 'projectcalico.org/orchestrator': 'k8s', app: 'web' });
  });
});

describe('crossResourceProblems: the BGPFilters a BGPPeer names must exist', () => {
  const filter = (name: string) => prepareResource(resourceOf('BGPFilter', { name }, { exportV4: [{ action: 'Reject' }] }), { op: 'create' }).resource;
  const stored = (k: string) => (k === 'BGPFilter' ? [filter('a'), filter('b')] : []);
  const peer = (filters: string[]) => resourceOf('BGPPeer', { name: 'p' }, { peerIP: '10.0.0.1', filters });

  it.each([
    ['all exist', ['b', 'a'], []],
    ['none named', [], []],
    ['some missing: the missing ones, in order', ['x', 'a', 'y'], [fe('BGPPeer.Spec.Filters', 'spec.filters', '[x y]', 'BGPFilter(s) not found')]],
  ] as const)('%s', (_name, filters, want) => {
    expect(crossResourceProblems(peer([...filters]), stored)).toEqual(want);
  });

  it('reads as Calico prints it', () => {
    expect(validationMessage(crossResourceProblems(peer(['export-v4', 'import-v4']), () => []))).toBe(
      "error with field BGPPeer.Spec.Filters = '[export-v4 import-v4]' (BGPFilter(s) not found)",
    );
  });
});

describe('crossResourceProblems: a pool overlapping its siblings', () => {
  const pool = (name: string, cidr: string) => prepareResource(resourceOf('IPPool', { name }, { cidr }), { op: 'create' }).resource;
  const siblings = [pool('default-ipv4-ippool', '192.168.0.0/16'), pool('other', '10.0.128.0/17'), pool('wide', '10.0.0.0/8'), pool('v6', 'fd00::/64')];

  it.each([
    ['no overlap', pool('new', '172.16.0.0/16'), []],
    ['inside one and around another', pool('new', '10.0.0.0/16'), [
      fe('IPPool.Spec.CIDR', 'spec.cidr', '10.0.0.0/16', 'IPPool(new) CIDR overlaps with IPPool(other) CIDR 10.0.128.0/17'),
      fe('IPPool.Spec.CIDR', 'spec.cidr', '10.0.0.0/16', 'IPPool(new) CIDR overlaps with IPPool(wide) CIDR 10.0.0.0/8'),
    ]],
    ['its own stored version is not a sibling', pool('other', '10.0.128.0/17'), [
      fe('IPPool.Spec.CIDR', 'spec.cidr', '10.0.128.0/17', 'IPPool(other) CIDR overlaps with IPPool(wide) CIDR 10.0.0.0/8'),
    ]],
    ['IPv6 never overlaps IPv4', pool('new6', 'fd00::/48'), [fe('IPPool.Spec.CIDR', 'spec.cidr', 'fd00::/48', 'IPPool(new6) CIDR overlaps with IPPool(v6) CIDR fd00::/64')]],
    ['not a pool', resourceOf('BGPPeer', { name: 'p' }, { peerIP: '10.0.0.1' }), []],
  ] as const)('%s', (_name, resource, want) => {
    expect(crossResourceProblems(resource, (k) => (k === 'IPPool' ? siblings : []))).toEqual(want);
  });

  it('reads as Calico prints it', () => {
    expect(validationMessage(crossResourceProblems(pool('new', '10.0.0.0/16'), (k) => (k === 'IPPool' ? siblings : [])))).toBe(
      'error with the following fields:\n' +
        "-  IPPool.Spec.CIDR = '10.0.0.0/16' (IPPool(new) CIDR overlaps with IPPool(other) CIDR 10.0.128.0/17)\n" +
        "-  IPPool.Spec.CIDR = '10.0.0.0/16' (IPPool(new) CIDR overlaps with IPPool(wide) CIDR 10.0.0.0/8)\n",
    );
  });
});

describe("Calico's validation message format", () => {
  it.each([
    [[], 'unknown validation error'],
    [[fe('Metadata.Name', 'metadata.name', undefined, 'field must be set')], 'error with field Metadata.Name (field must be set)'],
    [[fe('F', 'f', 'v', '')], "error with field F = 'v'"],
    [[fe('A', 'a', 'x', 'r1'), fe('B', 'b', undefined, 'r2')], "error with the following fields:\n-  A = 'x' (r1)\n-  B (r2)\n"],
  ] as const)('%j', (errors, message) => {
    expect(validationMessage(errors)).toBe(message);
  });

  it('formats one field as Name = \'value\' (reason)', () => {
    expect(formatFieldError(fe('BGPPeer.Spec.PeerIP', 'spec.peerIP', 'badpeerIP', 'r'))).toBe("BGPPeer.Spec.PeerIP = 'badpeerIP' (r)");
  });

  it('ValidationError carries the fields, a fixed name and reason, and a cause', () => {
    const cause = new Error('inner');
    const err = new ValidationError([fe('F', 'f', undefined, 'r')], { cause });
    expect([err.name, err.reason, err.fields, err.cause]).toEqual(['ValidationError', 'invalid-argument', [fe('F', 'f', undefined, 'r')], cause]);
  });
});

const asn = (v: string) => `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: p
spec:
  peerIP: 10.0.0.1
  asNumber: ${v}
`;

describe('AS numbers in manifests (numorstring.ASNumber)', () => {
  it.each([
    ['64512', 64512],
    ['"64512"', 64512],
    ['"1.10"', 65546],
    ["'65535.65535'", 4294967295],
    ['"0.0"', 0],
    ['0', 0],
    ['4294967295', 4294967295],
  ])('%s is %d', (written, value) => {
    const r = parseOne(asn(written)).resource;
    expect(r.kind?.$case === 'bgpPeer' && r.kind.value.spec?.asNumber).toBe(value);
  });

  const invalid = (s: string) => `invalid AS Number format (${s}): must be a whole number from 0 to 4294967295, or X.Y with X and Y from 0 to 65535`;
  it.each([
    ['1.10', 'spec.asNumber: invalid AS Number format (1.10): YAML reads it as a decimal number; write a dotted AS number in quotes, e.g. asNumber: "1.10"'],
    ['1.0', 'spec.asNumber: invalid AS Number format (1.0): YAML reads it as a decimal number; write a dotted AS number in quotes, e.g. asNumber: "1.0"'],
    ['4294967296', `spec.asNumber: ${invalid('4294967296')}`],
    ['"4294967296"', `spec.asNumber: ${invalid('4294967296')}`],
    ['"65536.0"', `spec.asNumber: ${invalid('65536.0')}`],
    ['"1.65536"', `spec.asNumber: ${invalid('1.65536')}`],
    ['-1', `spec.asNumber: ${invalid('-1')}`],
    ['6.4512e4', `spec.asNumber: ${invalid('6.4512e4')}`],
    ['"AS64512"', `spec.asNumber: ${invalid('AS64512')}`],
    ['true', `spec.asNumber: ${invalid('true')}`],
    ['[1]', 'spec.asNumber: expected an AS number, got a list'],
  ])('%s is refused', (written, message) => {
    expect(parseManifest(asn(written)).errors.map((e) => e.message)).toEqual([`document 1, line 7, column 13: ${message}`]);
  });

  it.each([
    [64512, { value: 64512 }],
    ['1.10', { value: 65546 }],
    ['0065535.0001', { value: 4294901761 }],
    [1.5, { error: invalid('1.5') }],
    ['', { error: invalid('') }],
    [null, { error: invalid('null') }],
  ])('parseASNumber(%j)', (input, want) => {
    expect(parseASNumber(input)).toEqual(want);
  });
});

describe('manifest-level rules (strict decoding, as calicoctl)', () => {
  const peer = (head: string, spec: string) => `${head}
metadata:
  name: p
spec:
${spec}`;
  const head = 'apiVersion: projectcalico.org/v3\nkind: BGPPeer';
  it.each([
    [
      'unknown field, with the right spelling when only the case differs',
      peer(head, '  peerIp: 10.0.0.1\n'),
      'document 1, line 6, column 3: spec.peerIp: unknown field "peerIp"; did you mean "peerIP"? (BGPPeerSpec fields: node, nodeSelector, peerIP, asNumber, localASNumber, peerSelector, keepOriginalNextHop, nextHopMode, password, sourceAddress, maxRestartTime, numAllowedLocalASNumbers, ttlSecurity, reachableBy, filters, localWorkloadSelector, reversePeering, keepaliveTime)',
    ],
    [
      'unknown field in metadata',
      peer(head, '  peerIP: 10.0.0.1\n').replace('  name: p\n', '  name: p\n  nmae: q\n'),
      'document 1, line 5, column 3: metadata.nmae: unknown field "nmae" (ObjectMeta fields: name, namespace, uid, resourceVersion, creationTimestamp, labels, annotations, generateName, finalizers)',
    ],
    [
      'wrong apiVersion',
      peer('apiVersion: projectcalico.org/v1\nkind: BGPPeer', '  peerIP: 10.0.0.1\n'),
      'document 1, line 1, column 13: apiVersion: unknown resource type (BGPPeer) and/or version (projectcalico.org/v1): use apiVersion: projectcalico.org/v3',
    ],
    [
      'CRD apiVersion',
      peer('apiVersion: crd.projectcalico.org/v1\nkind: BGPPeer', '  peerIP: 10.0.0.1\n'),
      'document 1, line 1, column 13: apiVersion: unknown resource type (BGPPeer) and/or version (crd.projectcalico.org/v1): use apiVersion: projectcalico.org/v3',
    ],
    [
      'missing apiVersion',
      peer('kind: BGPPeer', '  peerIP: 10.0.0.1\n'),
      'document 1, line 1, column 1: apiVersion: unknown resource type (BGPPeer) and/or version (): use apiVersion: projectcalico.org/v3',
    ],
    [
      'unknown kind',
      peer('apiVersion: projectcalico.org/v3\nkind: HostEndpoint', '  interfaceName: eth0\n'),
      'document 1, line 2, column 7: kind: unknown resource type (HostEndpoint) and/or version (projectcalico.org/v3): known kinds are BGPConfiguration, BGPFilter, BGPPeer, IPAMConfiguration, IPPool, IPReservation, Node, NodeStatus, WorkloadEndpoint',
    ],
    [
      'kind in the wrong case',
      peer('apiVersion: projectcalico.org/v3\nkind: ippool', '  cidr: 10.0.0.0/16\n'),
      'document 1, line 2, column 7: kind: unknown resource type (ippool) and/or version (projectcalico.org/v3): kinds are case-sensitive, did you mean IPPool?',
    ],
    [
      'kind missing',
      peer('apiVersion: projectcalico.org/v3', '  cidr: 10.0.0.0/16\n'),
      'document 1, line 1, column 1: kind: unknown resource type () and/or version (projectcalico.org/v3): known kinds are BGPConfiguration, BGPFilter, BGPPeer, IPAMConfiguration, IPPool, IPReservation, Node, NodeStatus, WorkloadEndpoint',
    ],
  ])('%s', (_name, text, message) => {
    const result = parseManifest(text);
    expect(result.resources).toEqual([]);
    expect(result.errors.map((e) => e.message)).toEqual([message]);
  });
});

describe('the API_VERSION constant', () => {
  it('is the apiVersion every manifest must carry', () => {
    expect(API_VERSION).toBe('projectcalico.org/v3');
  });
});
