/**
 * One descriptor table per message: the manifest (JSON/YAML) name of each field, Calico's
 * Go name (used in validation messages), its type, and whether its absence matters.
 * The decoder, the encoder and the validators all read these tables; a test checks them
 * against the protobuf descriptors so the two cannot drift apart.
 */
export type FieldType =
  | { readonly t: 'string' }
  | { readonly t: 'bool' }
  | { readonly t: 'int'; readonly min: number; readonly max: number }
  | { readonly t: 'asNumber' }
  /** numorstring: a number or a string, stored as a string (port protocols). */
  | { readonly t: 'numOrString' }
  /** RFC 3339 time (metadata.creationTimestamp). */
  | { readonly t: 'time' }
  | { readonly t: 'list'; readonly of: FieldType }
  | { readonly t: 'map' }
  | { readonly t: 'message'; readonly schema: MessageSchema };

export interface FieldSchema {
  /** Name in manifests and protobuf JSON, e.g. `peerIP`. */
  readonly json: string;
  /** Calico's Go field name, e.g. `PeerIP`. */
  readonly go: string;
  readonly type: FieldType;
  /** Unset and zero differ (proto3 `optional`); the encoder prints a set zero value. */
  readonly presence?: boolean;
  /** Output only: set by the store, ignored on input where noted by the caller. */
  readonly readOnly?: boolean;
}

export interface MessageSchema {
  /** Protobuf message name, e.g. `BGPPeerSpec`. */
  readonly name: string;
  readonly fields: readonly FieldSchema[];
}

const str = { t: 'string' } as const;
const bool = { t: 'bool' } as const;
const asn = { t: 'asNumber' } as const;
const strList = { t: 'list', of: str } as const;
const uint32 = { t: 'int', min: 0, max: 4294967295 } as const;
const int32 = { t: 'int', min: -2147483648, max: 2147483647 } as const;
const msg = (schema: MessageSchema) => ({ t: 'message', schema }) as const;
const msgList = (schema: MessageSchema) => ({ t: 'list', of: msg(schema) }) as const;
const f = (json: string, go: string, type: FieldType, extra: Partial<FieldSchema> = {}): FieldSchema => ({ json, go, type, ...extra });

export const ObjectMetaSchema: MessageSchema = {
  name: 'ObjectMeta',
  fields: [
    f('name', 'Name', str),
    f('namespace', 'Namespace', str),
    f('uid', 'UID', str, { readOnly: true }),
    f('resourceVersion', 'ResourceVersion', str),
    f('creationTimestamp', 'CreationTimestamp', { t: 'time' }, { readOnly: true }),
    f('labels', 'Labels', { t: 'map' }),
    f('annotations', 'Annotations', { t: 'map' }),
    f('generateName', 'GenerateName', str),
    f('finalizers', 'Finalizers', strList),
  ],
};

const SecretKeySelectorSchema: MessageSchema = { name: 'SecretKeySelector', fields: [f('name', 'Name', str), f('key', 'Key', str)] };
const SecretSourceSchema: MessageSchema = { name: 'SecretSource', fields: [f('secretKeyRef', 'SecretKeyRef', msg(SecretKeySelectorSchema))] };
const ServiceCIDRSchema: MessageSchema = { name: 'ServiceCIDR', fields: [f('cidr', 'CIDR', str)] };
const CommunitySchema: MessageSchema = { name: 'Community', fields: [f('name', 'Name', str), f('value', 'Value', str)] };
const PrefixAdvertisementSchema: MessageSchema = {
  name: 'PrefixAdvertisement',
  fields: [f('cidr', 'CIDR', str), f('communities', 'Communities', strList)],
};

export const BGPConfigurationSpecSchema: MessageSchema = {
  name: 'BGPConfigurationSpec',
  fields: [
    f('logSeverityScreen', 'LogSeverityScreen', str),
    f('nodeToNodeMeshEnabled', 'NodeToNodeMeshEnabled', bool, { presence: true }),
    f('asNumber', 'ASNumber', asn, { presence: true }),
    f('serviceClusterIPs', 'ServiceClusterIPs', msgList(ServiceCIDRSchema)),
    f('serviceExternalIPs', 'ServiceExternalIPs', msgList(ServiceCIDRSchema)),
    f('serviceLoadBalancerIPs', 'ServiceLoadBalancerIPs', msgList(ServiceCIDRSchema)),
    f('serviceLoadBalancerAggregation', 'ServiceLoadBalancerAggregation', str),
    f('communities', 'Communities', msgList(CommunitySchema)),
    f('prefixAdvertisements', 'PrefixAdvertisements', msgList(PrefixAdvertisementSchema)),
    f('listenPort', 'ListenPort', { t: 'int', min: 0, max: 65535 }, { presence: true }),
    f('nodeMeshPassword', 'NodeMeshPassword', msg(SecretSourceSchema)),
    f('nodeMeshMaxRestartTime', 'NodeMeshMaxRestartTime', str),
    f('bindMode', 'BindMode', str),
    f('ignoredInterfaces', 'IgnoredInterfaces', strList),
    f('localWorkloadPeeringIPV4', 'LocalWorkloadPeeringIPV4', str),
    f('localWorkloadPeeringIPV6', 'LocalWorkloadPeeringIPV6', str),
  ],
};

export const BGPPeerSpecSchema: MessageSchema = {
  name: 'BGPPeerSpec',
  fields: [
    f('node', 'Node', str),
    f('nodeSelector', 'NodeSelector', str),
    f('peerIP', 'PeerIP', str),
    f('asNumber', 'ASNumber', asn, { presence: true }),
    f('localASNumber', 'LocalASNumber', asn, { presence: true }),
    f('peerSelector', 'PeerSelector', str),
    f('keepOriginalNextHop', 'KeepOriginalNextHop', bool),
    f('nextHopMode', 'NextHopMode', str),
    f('password', 'Password', msg(SecretSourceSchema)),
    f('sourceAddress', 'SourceAddress', str),
    f('maxRestartTime', 'MaxRestartTime', str),
    f('numAllowedLocalASNumbers', 'NumAllowedLocalASNumbers', int32, { presence: true }),
    f('ttlSecurity', 'TTLSecurity', { t: 'int', min: 0, max: 255 }, { presence: true }),
    f('reachableBy', 'ReachableBy', str),
    f('filters', 'Filters', strList),
    f('localWorkloadSelector', 'LocalWorkloadSelector', str),
    f('reversePeering', 'ReversePeering', str),
    f('keepaliveTime', 'KeepaliveTime', str),
  ],
};

const prefixLengthSchema = (name: string, max: number): MessageSchema => ({
  name,
  fields: [f('min', 'Min', { t: 'int', min: 0, max }, { presence: true }), f('max', 'Max', { t: 'int', min: 0, max }, { presence: true })],
});
const filterRuleSchema = (name: string, prefixLength: MessageSchema): MessageSchema => ({
  name,
  fields: [
    f('cidr', 'CIDR', str),
    f('prefixLength', 'PrefixLength', msg(prefixLength)),
    f('matchOperator', 'MatchOperator', str),
    f('source', 'Source', str),
    f('interface', 'Interface', str),
    f('action', 'Action', str),
  ],
});
const BGPFilterRuleV4Schema = filterRuleSchema('BGPFilterRuleV4', prefixLengthSchema('BGPFilterPrefixLengthV4', 32));
const BGPFilterRuleV6Schema = filterRuleSchema('BGPFilterRuleV6', prefixLengthSchema('BGPFilterPrefixLengthV6', 128));

export const BGPFilterSpecSchema: MessageSchema = {
  name: 'BGPFilterSpec',
  fields: [
    f('exportV4', 'ExportV4', msgList(BGPFilterRuleV4Schema)),
    f('importV4', 'ImportV4', msgList(BGPFilterRuleV4Schema)),
    f('exportV6', 'ExportV6', msgList(BGPFilterRuleV6Schema)),
    f('importV6', 'ImportV6', msgList(BGPFilterRuleV6Schema)),
  ],
};

const NodeBGPSpecSchema: MessageSchema = {
  name: 'NodeBGPSpec',
  fields: [
    f('asNumber', 'ASNumber', asn, { presence: true }),
    f('ipv4Address', 'IPv4Address', str),
    f('ipv6Address', 'IPv6Address', str),
    f('ipv4IPIPTunnelAddr', 'IPv4IPIPTunnelAddr', str),
    f('routeReflectorClusterID', 'RouteReflectorClusterID', str),
  ],
};
const OrchRefSchema: MessageSchema = { name: 'OrchRef', fields: [f('nodeName', 'NodeName', str), f('orchestrator', 'Orchestrator', str)] };
const NodeWireguardSpecSchema: MessageSchema = {
  name: 'NodeWireguardSpec',
  fields: [f('interfaceIPv4Address', 'InterfaceIPv4Address', str), f('interfaceIPv6Address', 'InterfaceIPv6Address', str)],
};
const NodeAddressSchema: MessageSchema = { name: 'NodeAddress', fields: [f('address', 'Address', str), f('type', 'Type', str)] };
const NodeInterfaceSchema: MessageSchema = { name: 'NodeInterface', fields: [f('name', 'Name', str), f('addresses', 'Addresses', strList)] };

export const NodeSpecSchema: MessageSchema = {
  name: 'NodeSpec',
  fields: [
    f('bgp', 'BGP', msg(NodeBGPSpecSchema), { presence: true }),
    f('ipv4VXLANTunnelAddr', 'IPv4VXLANTunnelAddr', str),
    f('vxlanTunnelMACAddr', 'VXLANTunnelMACAddr', str),
    f('ipv6VXLANTunnelAddr', 'IPv6VXLANTunnelAddr', str),
    f('vxlanTunnelMACAddrV6', 'VXLANTunnelMACAddrV6', str),
    f('orchRefs', 'OrchRefs', msgList(OrchRefSchema)),
    f('wireguard', 'Wireguard', msg(NodeWireguardSpecSchema)),
    f('addresses', 'Addresses', msgList(NodeAddressSchema)),
    f('interfaces', 'Interfaces', msgList(NodeInterfaceSchema)),
  ],
};

export const NodeRuntimeStatusSchema: MessageSchema = {
  name: 'NodeRuntimeStatus',
  fields: [
    f('wireguardPublicKey', 'WireguardPublicKey', str),
    f('wireguardPublicKeyV6', 'WireguardPublicKeyV6', str),
    f('podCIDRs', 'PodCIDRs', strList),
  ],
};

export const IPPoolSpecSchema: MessageSchema = {
  name: 'IPPoolSpec',
  fields: [
    f('cidr', 'CIDR', str),
    f('blockSize', 'BlockSize', int32),
    f('ipipMode', 'IPIPMode', str),
    f('vxlanMode', 'VXLANMode', str),
    f('natOutgoing', 'NATOutgoing', bool),
    f('disabled', 'Disabled', bool, { presence: true }),
    f('disableBGPExport', 'DisableBGPExport', bool),
    f('nodeSelector', 'NodeSelector', str),
    f('namespaceSelector', 'NamespaceSelector', str),
    f('allowedUses', 'AllowedUses', strList),
    f('assignmentMode', 'AssignmentMode', str),
  ],
};

export const IPReservationSpecSchema: MessageSchema = {
  name: 'IPReservationSpec',
  fields: [f('reservedCIDRs', 'ReservedCIDRs', strList)],
};

export const IPAMConfigurationSpecSchema: MessageSchema = {
  name: 'IPAMConfigurationSpec',
  fields: [
    f('strictAffinity', 'StrictAffinity', bool),
    f('maxBlocksPerHost', 'MaxBlocksPerHost', { t: 'int', min: 0, max: 2147483647 }),
    f('autoAllocateBlocks', 'AutoAllocateBlocks', bool, { presence: true }),
  ],
};

const IPNATSchema: MessageSchema = { name: 'IPNAT', fields: [f('internalIP', 'InternalIP', str), f('externalIP', 'ExternalIP', str)] };
const WorkloadEndpointPortSchema: MessageSchema = {
  name: 'WorkloadEndpointPort',
  fields: [
    f('name', 'Name', str),
    f('protocol', 'Protocol', { t: 'numOrString' }),
    f('port', 'Port', { t: 'int', min: 0, max: 65535 }),
    f('hostPort', 'HostPort', { t: 'int', min: 0, max: 65535 }),
    f('hostIP', 'HostIP', str),
  ],
};

export const WorkloadEndpointSpecSchema: MessageSchema = {
  name: 'WorkloadEndpointSpec',
  fields: [
    f('orchestrator', 'Orchestrator', str),
    f('workload', 'Workload', str),
    f('node', 'Node', str),
    f('containerID', 'ContainerID', str),
    f('pod', 'Pod', str),
    f('endpoint', 'Endpoint', str),
    f('serviceAccountName', 'ServiceAccountName', str),
    f('ipNetworks', 'IPNetworks', strList),
    f('ipNATs', 'IPNATs', msgList(IPNATSchema)),
    f('ipv4Gateway', 'IPv4Gateway', str),
    f('ipv6Gateway', 'IPv6Gateway', str),
    f('profiles', 'Profiles', strList),
    f('interfaceName', 'InterfaceName', str),
    f('mac', 'MAC', str),
    f('ports', 'Ports', msgList(WorkloadEndpointPortSchema)),
    f('allowSpoofedSourcePrefixes', 'AllowSpoofedSourcePrefixes', strList),
  ],
};

export const NodeStatusSpecSchema: MessageSchema = {
  name: 'NodeStatusSpec',
  fields: [f('node', 'Node', str), f('updatePeriodSeconds', 'UpdatePeriodSeconds', uint32)],
};

const AgentStatusSchema: MessageSchema = {
  name: 'AgentStatus',
  fields: [
    f('state', 'State', str),
    f('version', 'Version', str),
    f('routerID', 'RouterID', str),
    f('lastBootTime', 'LastBootTime', str),
    f('lastReconfigurationTime', 'LastReconfigurationTime', str),
    f('address', 'Address', str),
  ],
};
const BGPPeerStatusSchema: MessageSchema = {
  name: 'BGPPeerStatus',
  fields: [
    f('peerIP', 'PeerIP', str),
    f('type', 'Type', str),
    f('state', 'State', str),
    f('since', 'Since', str),
    f('info', 'Info', str),
    f('lastError', 'LastError', str),
    f('prefixesReceived', 'PrefixesReceived', uint32),
    f('prefixesAdvertised', 'PrefixesAdvertised', uint32),
    f('port', 'Port', uint32),
  ],
};
const BGPDaemonStatusSchema: MessageSchema = {
  name: 'BGPDaemonStatus',
  fields: [
    f('numberEstablishedV4', 'NumberEstablishedV4', uint32),
    f('numberNotEstablishedV4', 'NumberNotEstablishedV4', uint32),
    f('numberEstablishedV6', 'NumberEstablishedV6', uint32),
    f('numberNotEstablishedV6', 'NumberNotEstablishedV6', uint32),
    f('peersV4', 'PeersV4', msgList(BGPPeerStatusSchema)),
    f('peersV6', 'PeersV6', msgList(BGPPeerStatusSchema)),
  ],
};
const RouteProblemSchema: MessageSchema = {
  name: 'RouteProblem',
  fields: [f('prefix', 'Prefix', str), f('error', 'Error', str)],
};
const RoutingStatusSchema: MessageSchema = {
  name: 'RoutingStatus',
  fields: [
    f('dataplane', 'Dataplane', str),
    f('programmed', 'Programmed', uint32),
    f('blackholes', 'Blackholes', uint32),
    f('workloads', 'Workloads', uint32),
    f('remote', 'Remote', uint32),
    f('lastReconcileTime', 'LastReconcileTime', str),
    f('failures', 'Failures', msgList(RouteProblemSchema)),
    f('waitingForInterface', 'WaitingForInterface', strList),
    f('converging', 'Converging', bool),
    f('borrowed', 'Borrowed', strList),
  ],
};
export const NodeStatusReportSchema: MessageSchema = {
  name: 'NodeStatusReport',
  fields: [
    f('lastUpdated', 'LastUpdated', str),
    f('agent', 'Agent', msg(AgentStatusSchema)),
    f('bgp', 'BGP', msg(BGPDaemonStatusSchema)),
    f('routes', 'Routes', msg(RoutingStatusSchema)),
  ],
};

/** Schema of a whole kind object: metadata, spec and (for some kinds) status. */
export function objectSchema(kind: string, spec: MessageSchema, status?: MessageSchema): MessageSchema {
  const fields: FieldSchema[] = [f('metadata', 'Metadata', msg(ObjectMetaSchema)), f('spec', 'Spec', msg(spec))];
  if (status) fields.push(f('status', 'Status', msg(status)));
  return { name: kind, fields };
}

/** Every message schema reachable from a root, for consistency checks. */
export function allSchemas(root: MessageSchema): MessageSchema[] {
  const seen = new Map<string, MessageSchema>();
  const visit = (s: MessageSchema): void => {
    if (seen.has(s.name)) return;
    seen.set(s.name, s);
    for (const fld of s.fields) {
      let t: FieldType = fld.type;
      while (t.t === 'list') t = t.of;
      if (t.t === 'message') visit(t.schema);
    }
  };
  visit(root);
  return [...seen.values()];
}
