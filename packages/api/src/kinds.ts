import {
  BGPConfiguration,
  BGPFilter,
  BGPPeer,
  IPAMConfiguration,
  IPPool,
  IPReservation,
  Node,
  NodeStatus,
  WorkloadEndpoint,
  ObjectMeta,
  type Resource,
} from '@tabby/proto';
import { UnknownKindError } from './errors.js';
import {
  BGPConfigurationSpecSchema,
  BGPFilterSpecSchema,
  BGPPeerSpecSchema,
  IPAMConfigurationSpecSchema,
  IPPoolSpecSchema,
  IPReservationSpecSchema,
  NodeRuntimeStatusSchema,
  NodeSpecSchema,
  NodeStatusReportSchema,
  NodeStatusSpecSchema,
  WorkloadEndpointSpecSchema,
  objectSchema,
  type MessageSchema,
} from './schema.js';

/** The `apiVersion` of every Tabby resource, as Calico's documents write it. */
export const API_VERSION = 'projectcalico.org/v3';

/** The `$case` of the Resource oneof for each kind. */
export type ResourceCase = NonNullable<Resource['kind']>['$case'];
/** Any kind's object (BGPPeer, IPPool, ...). */
export type KindObject = NonNullable<Resource['kind']>['value'];

export type KindName =
  | 'BGPConfiguration'
  | 'BGPPeer'
  | 'BGPFilter'
  | 'Node'
  | 'IPPool'
  | 'IPReservation'
  | 'IPAMConfiguration'
  | 'WorkloadEndpoint'
  | 'NodeStatus';

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/** What Tabby knows about one kind: names, scope, schema and protobuf codec. */
export interface KindInfo {
  readonly kind: KindName;
  readonly listKind: string;
  readonly oneofCase: ResourceCase;
  readonly namespaced: boolean;
  /** CLI names, lower case: singular, plural and short forms, as calicoctl accepts them. */
  readonly aliases: readonly string[];
  readonly schema: MessageSchema;
  /** Makes a complete object (every field present) from a partial one. */
  readonly fromPartial: (partial: object) => KindObject;
  readonly codec: Codec<KindObject>;
}

function info(
  kind: KindName,
  oneofCase: ResourceCase,
  namespaced: boolean,
  aliases: string[],
  schema: MessageSchema,
  fns: { fromPartial(o: never): KindObject; encode(m: never): { finish(): Uint8Array }; decode(i: Uint8Array): KindObject },
): KindInfo {
  return {
    kind,
    listKind: `${kind}List`,
    oneofCase,
    namespaced,
    aliases,
    schema,
    fromPartial: (partial) => fns.fromPartial(partial as never),
    codec: fns,
  };
}

/** The registry: every kind, in the order the CLI lists them. */
export const KINDS: readonly KindInfo[] = [
  info(
    'BGPConfiguration',
    'bgpConfiguration',
    false,
    ['bgpconfiguration', 'bgpconfigurations', 'bgpconfig', 'bgpconfigs'],
    objectSchema('BGPConfiguration', BGPConfigurationSpecSchema),
    BGPConfiguration,
  ),
  info(
    'BGPFilter',
    'bgpFilter',
    false,
    ['bgpfilter', 'bgpfilters', 'bgpf', 'bgpfs', 'bf', 'bfs'],
    objectSchema('BGPFilter', BGPFilterSpecSchema),
    BGPFilter,
  ),
  info('BGPPeer', 'bgpPeer', false, ['bgppeer', 'bgppeers', 'bgpp', 'bgpps', 'bp', 'bps'], objectSchema('BGPPeer', BGPPeerSpecSchema), BGPPeer),
  info(
    'IPAMConfiguration',
    'ipamConfiguration',
    false,
    ['ipamconfiguration', 'ipamconfigurations', 'ipamconfig', 'ipamconfigs'],
    objectSchema('IPAMConfiguration', IPAMConfigurationSpecSchema),
    IPAMConfiguration,
  ),
  info('IPPool', 'ipPool', false, ['ippool', 'ippools', 'ipp', 'ipps', 'pool', 'pools'], objectSchema('IPPool', IPPoolSpecSchema), IPPool),
  info(
    'IPReservation',
    'ipReservation',
    false,
    ['ipreservation', 'ipreservations', 'reservation', 'reservations'],
    objectSchema('IPReservation', IPReservationSpecSchema),
    IPReservation,
  ),
  info('Node', 'node', false, ['node', 'nodes', 'no', 'nos'], objectSchema('Node', NodeSpecSchema, NodeRuntimeStatusSchema), Node),
  info(
    'NodeStatus',
    'nodeStatus',
    false,
    ['nodestatus', 'nodestatuses', 'caliconodestatus', 'caliconodestatuses'],
    objectSchema('NodeStatus', NodeStatusSpecSchema, NodeStatusReportSchema),
    NodeStatus,
  ),
  info(
    'WorkloadEndpoint',
    'workloadEndpoint',
    true,
    ['workloadendpoint', 'workloadendpoints', 'wep', 'weps'],
    objectSchema('WorkloadEndpoint', WorkloadEndpointSpecSchema),
    WorkloadEndpoint,
  ),
];

const byAlias = new Map<string, KindInfo>();
const byKind = new Map<string, KindInfo>();
const byCase = new Map<string, KindInfo>();
for (const k of KINDS) {
  byKind.set(k.kind, k);
  byCase.set(k.oneofCase, k);
  byAlias.set(k.kind.toLowerCase(), k);
  for (const a of k.aliases) byAlias.set(a, k);
}

/** Looks a kind up by its exact name (`IPPool`) or any alias, case-insensitively (`pools`, `bgpPeer`). */
export function findKind(nameOrAlias: string): KindInfo | undefined {
  return byKind.get(nameOrAlias) ?? byAlias.get(nameOrAlias.toLowerCase());
}

/** Like {@link findKind} but throws {@link UnknownKindError} (`resource type 'x' is not supported`). */
export function mustFindKind(nameOrAlias: string): KindInfo {
  const k = findKind(nameOrAlias);
  if (!k) throw new UnknownKindError(nameOrAlias);
  return k;
}

/** The kind exactly as written in a manifest's `kind:` (case-sensitive, as Calico requires). */
export function kindByExactName(kind: string): KindInfo | undefined {
  return byKind.get(kind);
}

/** The kind of a Resource envelope; throws if the envelope is empty. */
export function kindOf(resource: Resource): KindInfo {
  const c = resource.kind?.$case;
  const k = c ? byCase.get(c) : undefined;
  if (!k) throw new UnknownKindError('(empty resource)');
  return k;
}

/** The object inside a Resource envelope. */
export function objectOf(resource: Resource): KindObject {
  if (!resource.kind) throw new UnknownKindError('(empty resource)');
  return resource.kind.value;
}

/** Wraps an object of a kind into the Resource envelope. */
export function wrap(kind: KindInfo | KindName, object: KindObject): Resource {
  const k = typeof kind === 'string' ? (byKind.get(kind) as KindInfo) : kind;
  return { kind: { $case: k.oneofCase, value: object } as Resource['kind'] };
}

/** The metadata of a resource (created empty when missing, so callers may assign to it). */
export function metaOf(resource: Resource): ObjectMeta {
  const obj = objectOf(resource);
  obj.metadata ??= ObjectMeta.fromPartial({});
  return obj.metadata;
}

/** Calico's identifier in messages: `IPPool(name)`, `WorkloadEndpoint(ns/name)`. */
export function idOf(kind: KindInfo | KindName, namespace: string, name: string): string {
  const k = typeof kind === 'string' ? (byKind.get(kind) as KindInfo) : kind;
  return k.namespaced ? `${k.kind}(${namespace}/${name})` : `${k.kind}(${name})`;
}

/** {@link idOf} for a resource. */
export function resourceId(resource: Resource): string {
  const m = metaOf(resource);
  return idOf(kindOf(resource), m.namespace, m.name);
}

/** Protobuf bytes of a Resource envelope (what the store keeps). */
export function encodeResource(resource: Resource): Uint8Array {
  const k = kindOf(resource);
  return k.codec.encode(objectOf(resource)).finish();
}

/** Decodes bytes made by {@link encodeResource} for a known kind. */
export function decodeResource(kind: KindInfo, bytes: Uint8Array): Resource {
  return wrap(kind, kind.codec.decode(bytes));
}

/** A deep copy of a resource (via its protobuf encoding). */
export function cloneResource(resource: Resource): Resource {
  return decodeResource(kindOf(resource), encodeResource(resource));
}
