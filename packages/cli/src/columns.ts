import { metaOf, objectOf, type KindName } from '@tabby/api';
import type { BGPConfiguration, BGPFilter, BGPPeer, IPAMConfiguration, IPPool, IPReservation, Node, NodeStatus, Resource, WorkloadEndpoint } from '@tabby/proto';

/** What cells may need beyond the object itself. */
export interface CellContext {
  /** The cluster AS (default BGPConfiguration asNumber, else 64512); undefined when it could not be read. */
  readonly globalAS?: number;
}

/** One column of a kind's table: heading and how to compute the cell. */
export interface Column {
  readonly heading: string;
  readonly cell: (resource: Resource, ctx: CellContext) => string;
}

/** The columns calicoctl prints for a kind: default (`ps`) and `-o wide`. */
export interface KindColumns {
  readonly ps: readonly Column[];
  readonly wide: readonly Column[];
}

const bool = (b: boolean | undefined): string => (b ? 'true' : 'false');
const name: Column = { heading: 'NAME', cell: (r) => metaOf(r).name };
const as = <T>(r: Resource): T => objectOf(r) as T;

const bgpConfigCols: Column[] = [
  name,
  { heading: 'LOGSEVERITY', cell: (r) => as<BGPConfiguration>(r).spec?.logSeverityScreen ?? '' },
  {
    heading: 'MESHENABLED',
    cell: (r) => {
      const v = as<BGPConfiguration>(r).spec?.nodeToNodeMeshEnabled;
      return v === undefined ? '-' : bool(v);
    },
  },
  {
    heading: 'ASNUMBER',
    cell: (r) => {
      const v = as<BGPConfiguration>(r).spec?.asNumber;
      return v === undefined ? '-' : String(v);
    },
  },
];

const bgpPeerCols: Column[] = [
  name,
  { heading: 'PEERIP', cell: (r) => as<BGPPeer>(r).spec?.peerIP ?? '' },
  {
    heading: 'NODE',
    cell: (r) => {
      const s = as<BGPPeer>(r).spec;
      return s?.node || s?.nodeSelector || '(global)';
    },
  },
  { heading: 'ASN', cell: (r) => String(as<BGPPeer>(r).spec?.asNumber ?? 0) },
];

/** calicoctl's BGPFilter table: the name and the number of rules in each list. */
const filter = (r: Resource): BGPFilter['spec'] => as<BGPFilter>(r).spec;
const bgpFilterCols: Column[] = [
  name,
  { heading: 'NUMEXPORTV4', cell: (r) => String(filter(r)?.exportV4.length ?? 0) },
  { heading: 'NUMIMPORTV4', cell: (r) => String(filter(r)?.importV4.length ?? 0) },
  { heading: 'NUMEXPORTV6', cell: (r) => String(filter(r)?.exportV6.length ?? 0) },
  { heading: 'NUMIMPORTV6', cell: (r) => String(filter(r)?.importV6.length ?? 0) },
];

const pool = (r: Resource): IPPool['spec'] => as<IPPool>(r).spec;
const ipPoolPs: Column[] = [
  name,
  { heading: 'CIDR', cell: (r) => pool(r)?.cidr ?? '' },
  { heading: 'SELECTOR', cell: (r) => pool(r)?.nodeSelector ?? '' },
];
const ipPoolWide: Column[] = [
  name,
  { heading: 'CIDR', cell: (r) => pool(r)?.cidr ?? '' },
  { heading: 'NAT', cell: (r) => bool(pool(r)?.natOutgoing) },
  { heading: 'IPIPMODE', cell: (r) => pool(r)?.ipipMode || 'Never' },
  { heading: 'VXLANMODE', cell: (r) => pool(r)?.vxlanMode || 'Never' },
  { heading: 'DISABLED', cell: (r) => bool(pool(r)?.disabled) },
  { heading: 'DISABLEBGPEXPORT', cell: (r) => bool(pool(r)?.disableBGPExport) },
  { heading: 'SELECTOR', cell: (r) => pool(r)?.nodeSelector ?? '' },
  { heading: 'ASSIGNMENTMODE', cell: (r) => pool(r)?.assignmentMode || 'Automatic' },
];

/** calicoctl's joinAndTruncate: the items joined, cut to `max` characters ending in `...`. */
export function joinAndTruncate(items: readonly string[], separator: string, max: number): string {
  const text = items.join(separator);
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

const ipReservationWide: Column[] = [name, { heading: 'CIDRS', cell: (r) => joinAndTruncate(as<IPReservation>(r).spec?.reservedCIDRs ?? [], ',', 80) }];

const ipamConfig = (r: Resource): IPAMConfiguration['spec'] => as<IPAMConfiguration>(r).spec;
const ipamConfigPs: Column[] = [
  name,
  { heading: 'STRICTAFFINITY', cell: (r) => bool(ipamConfig(r)?.strictAffinity) },
  { heading: 'AUTOALLOCATEBLOCKS', cell: (r) => bool(ipamConfig(r)?.autoAllocateBlocks ?? true) },
];
const ipamConfigWide: Column[] = [...ipamConfigPs, { heading: 'MAXBLOCKSPERHOST', cell: (r) => String(ipamConfig(r)?.maxBlocksPerHost ?? 0) }];

const nodeWide: Column[] = [
  name,
  {
    heading: 'ASN',
    cell: (r, ctx) => {
      const bgp = as<Node>(r).spec?.bgp;
      if (!bgp) return '';
      if (bgp.asNumber !== undefined) return String(bgp.asNumber);
      return ctx.globalAS === undefined ? '(unknown)' : `(${ctx.globalAS})`;
    },
  },
  { heading: 'IPV4', cell: (r) => as<Node>(r).spec?.bgp?.ipv4Address ?? '' },
  { heading: 'IPV6', cell: (r) => as<Node>(r).spec?.bgp?.ipv6Address ?? '' },
];

const wep = (r: Resource): WorkloadEndpoint['spec'] => as<WorkloadEndpoint>(r).spec;
const wepCommon: Column[] = [
  { heading: 'WORKLOAD', cell: (r) => wep(r)?.workload || wep(r)?.pod || '' },
  { heading: 'NODE', cell: (r) => wep(r)?.node ?? '' },
  { heading: 'NETWORKS', cell: (r) => (wep(r)?.ipNetworks ?? []).join(',') },
  { heading: 'INTERFACE', cell: (r) => wep(r)?.interfaceName ?? '' },
];
const wepWide: Column[] = [
  name,
  ...wepCommon,
  { heading: 'PROFILES', cell: (r) => (wep(r)?.profiles ?? []).join(',') },
  { heading: 'NATS', cell: (r) => (wep(r)?.ipNATs ?? []).map((n) => `${n.internalIP}<->${n.externalIP}`).join(',') },
];

const status = (r: Resource): NodeStatus['status'] => as<NodeStatus>(r).status;
const nodeStatusWide: Column[] = [
  name,
  { heading: 'AGENT', cell: (r) => status(r)?.agent?.state ?? '' },
  { heading: 'BGP-V4', cell: (r) => `${status(r)?.bgp?.numberEstablishedV4 ?? 0}/${(status(r)?.bgp?.numberEstablishedV4 ?? 0) + (status(r)?.bgp?.numberNotEstablishedV4 ?? 0)}` },
  { heading: 'BGP-V6', cell: (r) => `${status(r)?.bgp?.numberEstablishedV6 ?? 0}/${(status(r)?.bgp?.numberEstablishedV6 ?? 0) + (status(r)?.bgp?.numberNotEstablishedV6 ?? 0)}` },
  { heading: 'LASTUPDATED', cell: (r) => status(r)?.lastUpdated ?? '' },
];

/** The table columns of every kind, as calicoctl's resource registry declares them. */
export const COLUMNS: Record<KindName, KindColumns> = {
  BGPConfiguration: { ps: bgpConfigCols, wide: bgpConfigCols },
  BGPPeer: { ps: bgpPeerCols, wide: bgpPeerCols },
  BGPFilter: { ps: bgpFilterCols, wide: bgpFilterCols },
  IPPool: { ps: ipPoolPs, wide: ipPoolWide },
  IPReservation: { ps: [name], wide: ipReservationWide },
  IPAMConfiguration: { ps: ipamConfigPs, wide: ipamConfigWide },
  Node: { ps: [name], wide: nodeWide },
  WorkloadEndpoint: { ps: wepCommon, wide: wepWide },
  NodeStatus: { ps: [name], wide: nodeStatusWide },
};

/** The NAMESPACE column prepended for namespaced kinds when -n or -A is given. */
export const NAMESPACE_COLUMN: Column = { heading: 'NAMESPACE', cell: (r) => metaOf(r).namespace };
