/**
 * What Tabby does with every field of BGPConfiguration, BGPPeer and BGPFilter: each is
 * either `implemented` (it has the effect Calico gives it) or `refused` (a write that sets
 * it fails, naming the field, so that no setting is silently ignored). The validators read
 * this table for the refusals; a test walks the kinds' schemas and fails on any field the
 * table does not list, and docs/fields.md is rendered from it.
 */
import type { FieldError } from './errors.js';
import type { KindName } from './kinds.js';
import type { FieldSchema, FieldType, MessageSchema } from './schema.js';

/** The kinds whose every field is accounted for. */
export type FieldSupportKind = Extract<KindName, 'BGPConfiguration' | 'BGPPeer' | 'BGPFilter'>;

export const FIELD_SUPPORT_KINDS: readonly FieldSupportKind[] = ['BGPConfiguration', 'BGPPeer', 'BGPFilter'];

export interface FieldSupport {
  readonly status: 'implemented' | 'refused';
  /** implemented: what it does and where it is tested; refused: why (ends the error's reason). */
  readonly note: string;
}

/** The reason of the field error a refused field gets. */
export const NOT_SUPPORTED = 'not supported by Tabby';

const implemented = (note: string): FieldSupport => ({ status: 'implemented', note });
const refused = (note: string): FieldSupport => ({ status: 'refused', note });

const METADATA: Readonly<Record<string, FieldSupport>> = {
  metadata: implemented('Object metadata, as Calico v3 (docs/calico-compat.md §0); packages/api/test/validation.test.ts.'),
  'metadata.name': implemented('Required on create, a DNS-1123 subdomain of at most 253 characters.'),
  'metadata.namespace': implemented('Refused on these cluster-scoped kinds, with Calico\'s message.'),
  'metadata.uid': implemented('Set by the store on create, kept on update.'),
  'metadata.resourceVersion': implemented('Store revision of the last write; must be empty on create, must match on update/delete when set.'),
  'metadata.creationTimestamp': implemented('Set by the store on create.'),
  'metadata.labels': implemented('Qualified-name keys, valid label values; replaced wholesale on update.'),
  'metadata.annotations': implemented('Qualified-name keys, at most 256 KiB in total; replaced wholesale on update.'),
  'metadata.generateName': implemented('Refused as Calico does (`field must be set for a Create request (GenerateName is not supported)`).'),
  'metadata.finalizers': implemented('Names of services that still need the object; a delete is refused while any is set.'),
};

const service = (list: string): FieldSupport =>
  implemented(
    `Only on \`default\`. Every node originates each cidr (a blackhole route) and exports it to all its peers (topology NodeConfig.services, ${list}); services/topology/test.`,
  );

/**
 * The table, keyed by kind and field path: JSON names joined by `.`, a list's elements as
 * `[]` (`spec.exportV4[].cidr`). Every field at every depth has an entry.
 */
export const FIELD_SUPPORT: { readonly [K in FieldSupportKind]: Readonly<Record<string, FieldSupport>> } = {
  BGPConfiguration: {
    ...METADATA,
    spec: implemented('Cluster-wide settings (`default`) or a per-node override (`node.<name>`: listenPort, logSeverityScreen, prefixAdvertisements).'),
    'spec.logSeverityScreen': implemented(
      'Trace, Debug, Info, Warning, Error or Fatal (default Info); the `node.<name>` value, else the default one, reaches the node as NodeConfig.logSeverityScreen and sets its BGP log level.',
    ),
    'spec.nodeToNodeMeshEnabled': implemented('Only on `default`; full iBGP mesh between all nodes, on when unset; services/topology/test/compile.test.ts.'),
    'spec.asNumber': implemented('Only on `default`; the AS of every node without its own, 64512 when unset; services/topology/test/compile.test.ts.'),
    'spec.serviceClusterIPs': service('ClusterIP'),
    'spec.serviceClusterIPs[].cidr': implemented('A strictly masked CIDR or an IP.'),
    'spec.serviceExternalIPs': service('ExternalIP'),
    'spec.serviceExternalIPs[].cidr': implemented('A strictly masked CIDR or an IP.'),
    'spec.serviceLoadBalancerIPs': service('LoadBalancer'),
    'spec.serviceLoadBalancerIPs[].cidr': implemented('A strictly masked CIDR or an IP.'),
    'spec.serviceLoadBalancerAggregation': implemented(
      'Enabled (default): the LoadBalancer ranges are announced whole. Disabled: Calico announces per-service /32s; Tabby has no Kubernetes Services, so no LoadBalancer range is announced.',
    ),
    'spec.communities': implemented('Named community values that prefixAdvertisements may use (at most 500).'),
    'spec.communities[].name': implemented('Required, a DNS-1123 subdomain.'),
    'spec.communities[].value': implemented('`aa:nn` (standard, RFC 1997) or `aa:nn:mm` (large, RFC 8092).'),
    'spec.prefixAdvertisements': implemented(
      'Communities attached to every route the node announces inside a cidr (topology NodeConfig.communities; the `node.<name>` list replaces the default one).',
    ),
    'spec.prefixAdvertisements[].cidr': implemented('Required, a CIDR.'),
    'spec.prefixAdvertisements[].communities': implemented('Literal community values or names defined in `communities`.'),
    'spec.listenPort': implemented('BGP port of the nodes (default 179); peers connect to it; services/topology/test/compile.test.ts, services/agent/test/peers.test.ts.'),
    'spec.nodeMeshPassword': implemented('Only on `default`, not with the mesh off: TCP MD5 (RFC 2385) on every mesh session; test/system/test/session-settings.test.ts.'),
    'spec.nodeMeshPassword.secretKeyRef': implemented('The secret holding the password, read by the agent.'),
    'spec.nodeMeshPassword.secretKeyRef.name': implemented('Required: the secret name.'),
    'spec.nodeMeshPassword.secretKeyRef.key': implemented('Required: the key in the secret.'),
    'spec.nodeMeshMaxRestartTime': implemented('Only on `default`, not with the mesh off: graceful-restart time (RFC 4724) of mesh sessions, whole seconds.'),
    'spec.bindMode': implemented(
      'None (default): the agent listens on every address (0.0.0.0, and :: with an IPv6 address), as BIRD does; NodeIP: only on --bgp-address/--bgp-ipv6-address. A change moves the listening sockets, no session resets. tabby-agent --bgp-listen node-address pins the latter (agents sharing one namespace). test/netns/test/source-and-bind.test.ts.',
    ),
    'spec.ignoredInterfaces': refused('Tabby exports no interface routes (Calico\'s BIRD protocol direct), so there is nothing to ignore'),
    'spec.localWorkloadPeeringIPV4': refused('Tabby has no local-workload peering'),
    'spec.localWorkloadPeeringIPV6': refused('Tabby has no local-workload peering'),
  },
  BGPPeer: {
    ...METADATA,
    spec: implemented('A BGP peering for all nodes, one node or selected nodes, towards an address or selected nodes.'),
    'spec.node': implemented('The one node that gets this peering; excludes nodeSelector; services/topology/test/compile.test.ts.'),
    'spec.nodeSelector': implemented('The nodes that get this peering; neither node nor nodeSelector makes a global peer; services/topology/test/compile.test.ts.'),
    'spec.peerIP': implemented('`<IP>`, `<IPv4>:<port>` or `[<IPv6>]:<port>`; excludes peerSelector; services/topology/test/compile.test.ts.'),
    'spec.asNumber': implemented('Remote AS of a peerIP peer; must be empty with peerSelector.'),
    'spec.localASNumber': implemented('The AS this node presents on these sessions; services/topology/test/compile.test.ts.'),
    'spec.peerSelector': implemented('Peer with the selected nodes (each of their addresses); services/topology/test/compile.test.ts.'),
    'spec.keepOriginalNextHop': implemented('Deprecated; keeps the next hop on eBGP sessions; not with nextHopMode; services/agent/test/peers.test.ts.'),
    'spec.nextHopMode': implemented('Auto (default), Self or Keep: the next hop of routes sent on these sessions; services/agent/test/peers.test.ts.'),
    'spec.password': implemented('TCP MD5 (RFC 2385) on these sessions, the key read from the agent\'s --secrets-dir; packages/bgp/test/interop/tcp-md5.test.ts (BIRD, GoBGP), test/system/test/session-settings.test.ts.'),
    'spec.password.secretKeyRef': implemented('The secret holding the password, read by the agent.'),
    'spec.password.secretKeyRef.name': implemented('Required: the secret name.'),
    'spec.password.secretKeyRef.key': implemented('Required: the key in the secret.'),
    'spec.sourceAddress': implemented(
      'UseNodeIP (default): sessions are dialled from the node\'s address. None: no bind, the kernel picks the source address by its routes (BIRD without `source address`). test/netns/test/source-and-bind.test.ts.',
    ),
    'spec.maxRestartTime': implemented('Graceful-restart time (RFC 4724) of these sessions.'),
    'spec.numAllowedLocalASNumbers': implemented('Accept routes whose AS path holds the local AS up to N times (BIRD `allow local as N`), 0-10.'),
    'spec.ttlSecurity': implemented(
      'GTSM (RFC 5082): sent with TTL 255, only packets from within N hops accepted (IP_MINTTL / IPV6_MINHOPCOUNT 256 - N); test/netns/test/gtsm.test.ts (BIRD), gtsm-gobgp.test.ts (GoBGP), gtsm-ipv6.test.ts (BIRD over IPv6), peers one and two hops away.',
    ),
    'spec.reachableBy': implemented(
      'Gateway of a host route to peerIP (same family), programmed by the agent with --dataplane linux; test/netns/test/reachable-by.test.ts (BIRD behind a router that is not the default route), services/agent/test/routing.test.ts.',
    ),
    'spec.filters': implemented(
      'Names of BGPFilters applied to these sessions in order; each must exist at create/update (`BGPFilter(s) not found`); services/store/test/resource-store.test.ts.',
    ),
    'spec.localWorkloadSelector': refused('Tabby has no local-workload peering'),
    'spec.reversePeering': implemented('Auto (default) or Manual: Manual suppresses the automatic reverse peerings; services/topology/test/compile.test.ts.'),
    'spec.keepaliveTime': implemented('KEEPALIVE interval of these sessions (a duration).'),
  },
  BGPFilter: {
    ...METADATA,
    spec: implemented('Import and export rules of the sessions of the BGPPeers that name the filter; the first matching rule decides.'),
    'spec.exportV4': implemented('IPv4 routes sent to the peer: these rules run before Tabby\'s own export rules.'),
    'spec.exportV4[].cidr': implemented('A strictly masked IPv4 CIDR (an address means /32), compared with matchOperator.'),
    'spec.exportV4[].prefixLength': implemented('Bounds of the route\'s prefix length; needs cidr.'),
    'spec.exportV4[].prefixLength.min': implemented('0-32; unset means the cidr\'s own length.'),
    'spec.exportV4[].prefixLength.max': implemented('0-32; unset means 32.'),
    'spec.exportV4[].matchOperator': implemented('Equal, NotEqual, In or NotIn; required with cidr.'),
    'spec.exportV4[].source': implemented('RemotePeers: only routes learned from BGP peers (not the node\'s own).'),
    'spec.exportV4[].interface': implemented('Only routes the node originates through a matching interface (`*` wildcards).'),
    'spec.exportV4[].action': implemented('Required: Accept or Reject.'),
    'spec.importV4': implemented('IPv4 routes received from the peer: these rules run before the default accept.'),
    'spec.importV4[].cidr': implemented('A strictly masked IPv4 CIDR (an address means /32), compared with matchOperator.'),
    'spec.importV4[].prefixLength': implemented('Bounds of the route\'s prefix length; needs cidr.'),
    'spec.importV4[].prefixLength.min': implemented('0-32; unset means the cidr\'s own length.'),
    'spec.importV4[].prefixLength.max': implemented('0-32; unset means 32.'),
    'spec.importV4[].matchOperator': implemented('Equal, NotEqual, In or NotIn; required with cidr.'),
    'spec.importV4[].source': implemented('RemotePeers: always true on import (every imported route comes from a peer).'),
    'spec.importV4[].interface': refused('routes learned from BGP peers have no interface in Tabby, so an import rule with one could never match'),
    'spec.importV4[].action': implemented('Required: Accept or Reject.'),
    'spec.exportV6': implemented('IPv6 routes sent to the peer: these rules run before Tabby\'s own export rules.'),
    'spec.exportV6[].cidr': implemented('A strictly masked IPv6 CIDR (an address means /128), compared with matchOperator.'),
    'spec.exportV6[].prefixLength': implemented('Bounds of the route\'s prefix length; needs cidr.'),
    'spec.exportV6[].prefixLength.min': implemented('0-128; unset means the cidr\'s own length.'),
    'spec.exportV6[].prefixLength.max': implemented('0-128; unset means 128.'),
    'spec.exportV6[].matchOperator': implemented('Equal, NotEqual, In or NotIn; required with cidr.'),
    'spec.exportV6[].source': implemented('RemotePeers: only routes learned from BGP peers (not the node\'s own).'),
    'spec.exportV6[].interface': implemented('Only routes the node originates through a matching interface (`*` wildcards).'),
    'spec.exportV6[].action': implemented('Required: Accept or Reject.'),
    'spec.importV6': implemented('IPv6 routes received from the peer: these rules run before the default accept.'),
    'spec.importV6[].cidr': implemented('A strictly masked IPv6 CIDR (an address means /128), compared with matchOperator.'),
    'spec.importV6[].prefixLength': implemented('Bounds of the route\'s prefix length; needs cidr.'),
    'spec.importV6[].prefixLength.min': implemented('0-128; unset means the cidr\'s own length.'),
    'spec.importV6[].prefixLength.max': implemented('0-128; unset means 128.'),
    'spec.importV6[].matchOperator': implemented('Equal, NotEqual, In or NotIn; required with cidr.'),
    'spec.importV6[].source': implemented('RemotePeers: always true on import (every imported route comes from a peer).'),
    'spec.importV6[].interface': refused('routes learned from BGP peers have no interface in Tabby, so an import rule with one could never match'),
    'spec.importV6[].action': implemented('Required: Accept or Reject.'),
  },
};

/** One field of a kind, as the walk meets it: its table key and schema. */
export interface WalkedField {
  /** Table key: `spec.exportV4[].prefixLength.min`. */
  readonly key: string;
  readonly field: FieldSchema;
}

/** Every field reachable from a message schema, depth first, in schema order. */
export function schemaFieldPaths(schema: MessageSchema, prefix = ''): WalkedField[] {
  const out: WalkedField[] = [];
  for (const field of schema.fields) {
    const key = `${prefix}${field.json}`;
    out.push({ key, field });
    let t: FieldType = field.type;
    let child = key;
    while (t.t === 'list') {
      t = t.of;
      child += '[]';
    }
    if (t.t === 'message') out.push(...schemaFieldPaths(t.schema, `${child}.`));
  }
  return out;
}

/** True when a field holds something other than its unset/zero value. */
function isSet(v: unknown, f: FieldSchema): boolean {
  if (v === undefined || v === null) return false;
  if (f.presence) return true;
  if (typeof v === 'string') return v !== '';
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return f.type.t === 'message' || Object.keys(v).length > 0;
  return true;
}

/** A value as a field error shows it: text as is, a list as Go prints a slice (`[a b]`). */
function shown(v: unknown): string | undefined {
  const scalar = (x: unknown): x is string | number | boolean => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean';
  if (Array.isArray(v)) return v.every(scalar) ? `[${v.map(String).join(' ')}]` : undefined;
  return scalar(v) ? String(v) : undefined;
}

/**
 * Field errors for the refused fields an object sets, one per occurrence, with the
 * concrete path (`spec.importV4[1].interface`) and Calico's field name
 * (`BGPFilter.Spec.ImportV4[1].Interface`); reason `not supported by Tabby: <why>`.
 */
export function refusedFieldProblems(kind: FieldSupportKind, schema: MessageSchema, object: object): FieldError[] {
  const table = FIELD_SUPPORT[kind];
  const out: FieldError[] = [];
  const visit = (obj: Record<string, unknown>, s: MessageSchema, key: string, path: string, go: string): void => {
    for (const f of s.fields) {
      const v = obj[f.json];
      if (!isSet(v, f)) continue;
      const k = `${key}${f.json}`;
      const p = `${path}${f.json}`;
      const g = `${go}${f.go}`;
      const entry = table[k];
      if (entry?.status === 'refused') {
        out.push({ field: g, path: p, value: shown(v), reason: `${NOT_SUPPORTED}: ${entry.note}` });
        continue;
      }
      let t: FieldType = f.type;
      if (t.t === 'message') visit(v as Record<string, unknown>, t.schema, `${k}.`, `${p}.`, `${g}.`);
      else if (t.t === 'list' && t.of.t === 'message') {
        t = t.of;
        const inner = t.schema;
        (v as Record<string, unknown>[]).forEach((item, i) => visit(item, inner, `${k}[].`, `${p}[${i}].`, `${g}[${i}].`));
      }
    }
  };
  visit(object as Record<string, unknown>, schema, '', '', `${kind}.`);
  return out;
}

/** Escapes a note for a Markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** The field table of one kind as Markdown (what docs/fields.md holds), in schema order. */
export function fieldSupportMarkdown(kind: FieldSupportKind, schema: MessageSchema): string {
  const table = FIELD_SUPPORT[kind];
  const rows = schemaFieldPaths(schema)
    .filter(({ key }) => !key.startsWith('metadata'))
    .map(({ key }) => {
      const e = table[key];
      const status = e ? e.status : '**missing**';
      const note = e ? (e.status === 'refused' ? `\`${NOT_SUPPORTED}: ${e.note}\`` : e.note) : '';
      return `| \`${key}\` | ${status} | ${cell(note)} |`;
    });
  return ['| field | status | what Tabby does / the error |', '|---|---|---|', ...rows].join('\n');
}

/** The metadata table shared by the three kinds, as Markdown. */
export function metadataSupportMarkdown(): string {
  const rows = Object.entries(METADATA).map(([key, e]) => `| \`${key}\` | ${e.status} | ${cell(e.note)} |`);
  return ['| field | status | what Tabby does |', '|---|---|---|', ...rows].join('\n');
}
