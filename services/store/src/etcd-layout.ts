import { KINDS, metaOf, parseManifest, toManifestObject, wrap, type FieldType, type KindInfo, type KindName, type MessageSchema } from '@tabby/api';
import type { Resource } from '@tabby/proto';
import { ServiceError } from '@tabby/runtime';

/**
 * Calico's etcd v3 layout (libcalico-go's etcdv3 backend): every resource at
 * `/calico/resources/v3/projectcalico.org/<plural>/[<namespace>/]<name>`, its value the
 * resource as JSON (the manifest an operator recognises, without resourceVersion: that is
 * the key's mod revision).
 */
export const RESOURCE_PREFIX = '/calico/resources/v3/projectcalico.org/';

/** Keys of the store's own bookkeeping, outside Calico's tree. */
const TABBY_PREFIX = '/tabby/store/v1/';

/** Random identifier of the cluster, made by the first store replica that needs it. */
export const CLUSTER_GUID_KEY = `${TABBY_PREFIX}cluster-guid`;

/** Calico's plural of each kind (its CRD and etcd name). */
const PLURALS: Readonly<Record<KindName, string>> = {
  BGPConfiguration: 'bgpconfigurations',
  BGPFilter: 'bgpfilters',
  BGPPeer: 'bgppeers',
  IPAMConfiguration: 'ipamconfigurations',
  IPPool: 'ippools',
  IPReservation: 'ipreservations',
  Node: 'nodes',
  NodeStatus: 'caliconodestatuses',
  WorkloadEndpoint: 'workloadendpoints',
};

const BY_PLURAL: ReadonlyMap<string, KindInfo> = new Map(KINDS.map((k) => [PLURALS[k.kind], k]));

/** The key prefix of a kind, or of one namespace of a namespaced kind. */
export function kindPrefix(kind: KindInfo, namespace?: string): string {
  return `${RESOURCE_PREFIX}${PLURALS[kind.kind]}/${kind.namespaced && namespace !== undefined ? `${namespace}/` : ''}`;
}

/** The key of one object. */
export function resourceKey(kind: KindInfo, namespace: string, name: string): string {
  return `${kindPrefix(kind, kind.namespaced ? namespace : undefined)}${name}`;
}

/**
 * A per-kind guard key, outside Calico's tree: every write of a kind puts it in the same
 * transaction, and a write whose rules read every object of the kind (IPPool overlaps, the
 * BGPFilters a BGPPeer names) compares its mod revision, so it fails if any object of that
 * kind was created, changed or deleted since it read them.
 */
export function guardKey(kind: KindInfo): string {
  return `${TABBY_PREFIX}guards/${PLURALS[kind.kind]}`;
}

/** The kind, namespace and name a key names; undefined for a key of a kind Tabby does not know. */
export function parseKey(key: string): { kind: KindInfo; namespace: string; name: string } | undefined {
  if (!key.startsWith(RESOURCE_PREFIX)) return undefined;
  const parts = key.slice(RESOURCE_PREFIX.length).split('/');
  const kind = BY_PLURAL.get(parts[0]);
  if (!kind) return undefined;
  if (kind.namespaced ? parts.length !== 3 : parts.length !== 2) return undefined;
  return kind.namespaced ? { kind, namespace: parts[1], name: parts[2] } : { kind, namespace: '', name: parts[1] };
}

/** The first key after every key that starts with `prefix` (etcd's range_end of a prefix). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i] += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** The value stored for a resource: its manifest JSON, metadata without resourceVersion. */
export function encodeValue(resource: Resource): string {
  const manifest = toManifestObject(resource);
  const metadata = manifest.metadata as Record<string, unknown> | undefined;
  if (metadata) delete metadata.resourceVersion;
  return JSON.stringify(manifest);
}

/** Times as the manifest decoder keeps them (RFC 3339 with milliseconds), in place. */
function normaliseTimes(obj: Record<string, unknown>, schema: MessageSchema): void {
  for (const field of schema.fields) {
    const v = obj[field.json];
    if (v === undefined || v === null) continue;
    const fix = (value: unknown, type: FieldType): unknown => {
      if (type.t === 'time' && typeof value === 'string') return new Date(value).toISOString();
      if (type.t === 'message' && typeof value === 'object' && value !== null) normaliseTimes(value as Record<string, unknown>, type.schema);
      if (type.t === 'list' && Array.isArray(value)) return value.map((x) => fix(x, type.of));
      return value;
    };
    obj[field.json] = fix(v, field.type);
  }
}

/**
 * Fast path for values this store wrote: plain JSON into the protobuf object, accepted only
 * if encoding it again gives the very same text (so it is exactly what the strict manifest
 * decoder would make). Anything else (a value written by hand or by Calico, with its own key
 * order or fields) goes through the strict decoder.
 */
function decodeCanonical(kind: KindInfo, text: string): Resource | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined; // not JSON: the strict decoder says what is wrong with it
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const { apiVersion, kind: kindName, ...fields } = parsed as Record<string, unknown>;
  if (apiVersion !== 'projectcalico.org/v3' || kindName !== kind.kind) return undefined;
  try {
    const resource = wrap(kind, kind.fromPartial(fields));
    if (encodeValue(resource) !== text) return undefined;
    normaliseTimes(fields, kind.schema);
    return wrap(kind, kind.fromPartial(fields));
  } catch {
    return undefined; // wrong types: the strict decoder names the field
  }
}

/**
 * The resource stored at `key`, with resourceVersion set to the key's mod revision. A value
 * that is not a valid resource of the key's kind and name is reported as INTERNAL naming
 * the key (someone wrote it by hand, or a newer Calico field Tabby does not read).
 */
export function decodeValue(key: string, value: Buffer | string, modRevision: number): Resource {
  const at = parseKey(key);
  if (!at) throw new ServiceError('internal', `etcd key ${key} is not a resource key Tabby knows`);
  const text = typeof value === 'string' ? value : value.toString('utf8');
  const fast = decodeCanonical(at.kind, text);
  if (fast) return checked(key, at, fast, modRevision);
  const parsed = parseManifest(text);
  const problem =
    parsed.errors.length > 0
      ? parsed.errors.map((e) => e.message).join('; ')
      : parsed.resources.length !== 1
        ? `expected one resource, found ${parsed.resources.length}`
        : parsed.resources[0].kind !== at.kind
          ? `expected a ${at.kind.kind}, found a ${parsed.resources[0].kind.kind}`
          : undefined;
  if (problem !== undefined) throw new ServiceError('internal', `etcd key ${key} does not hold a valid ${at.kind.kind}: ${problem}`);
  return checked(key, at, parsed.resources[0].resource, modRevision);
}

function checked(key: string, at: { kind: KindInfo; namespace: string; name: string }, resource: Resource, modRevision: number): Resource {
  const m = metaOf(resource);
  if (m.name !== at.name || m.namespace !== at.namespace)
    throw new ServiceError('internal', `etcd key ${key} holds ${at.kind.kind} ${m.namespace ? `${m.namespace}/` : ''}${m.name}, not the object its key names`);
  m.resourceVersion = String(modRevision);
  return resource;
}
