import { randomUUID } from 'node:crypto';
import {
  ResourceAlreadyExistsError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  cloneResource,
  crossResourceKinds,
  crossResourceProblems,
  encodeResource,
  finalizerRefusal,
  idOf,
  kindByExactName,
  kindOf,
  metaOf,
  prepareResource,
  qualifiedNameProblems,
  type KindInfo,
} from '@tabby/api';
import type { ApplyBatchResult, Resource } from '@tabby/proto';
import { ServiceError, toGrpcStatus, type Logger } from '@tabby/runtime';

/** An object as a write transaction reads it. */
export interface StoredObject {
  readonly resource: Resource;
  /** Revision of its last write (its resourceVersion). */
  readonly revision: number;
  /** Protobuf bytes of `resource`. */
  readonly data: Uint8Array;
}

/**
 * What a write operation may do inside its transaction. Every datastore gives the same
 * operations (below) this view: SQLite inside its batch transaction, etcd as an optimistic
 * transaction whose reads become the compares of the commit.
 */
export interface Tx {
  read(kind: KindInfo, namespace: string, name: string): StoredObject | undefined;
  /** Every stored object of a kind (for cross-resource rules). */
  all(kind: KindInfo): Resource[];
  /** Stores the object (sets its resourceVersion) and returns it. */
  put(kind: KindInfo, resource: Resource, previous: Uint8Array | undefined): Resource;
  remove(kind: KindInfo, namespace: string, name: string, previous: Uint8Array): void;
}

/** A write: runs against a transaction, returns what the RPC answers. May run more than once (etcd retries it). */
export type WriteOp<T> = (tx: Tx) => T;

let lastSecond = { at: -1, text: '' };

/** Whole seconds, as Kubernetes and Calico keep creationTimestamp (formatted once a second). */
export function nowSeconds(): string {
  const at = Math.floor(Date.now() / 1000);
  if (at !== lastSecond.at) lastSecond = { at, text: new Date(at * 1000).toISOString() };
  return lastSecond.text;
}

/** The map with its keys sorted (labels and annotations are stored so). */
export function sortedMap(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** The kind of a stored name; a name no kind has is a broken invariant. */
export function kindNamed(kind: string): KindInfo {
  const k = kindByExactName(kind);
  if (!k) throw new ServiceError('internal', `unknown kind ${kind} in the datastore`);
  return k;
}

/** The stored finalizers, in order, then those a write names that are not stored yet. */
function mergeFinalizers(stored: readonly string[], named: readonly string[]): string[] {
  const out = [...stored];
  for (const f of named) if (!out.includes(f)) out.push(f);
  return out;
}

/**
 * Rules against other stored objects (pool overlaps, the BGPFilters a BGPPeer names), read
 * inside the write transaction. Deleting a BGPFilter that a BGPPeer still names is allowed,
 * as in Calico; topology then keeps that peer's sessions down (PeerConfig.missing_filters).
 */
function checkCross(tx: Tx, resource: Resource): void {
  const kinds = crossResourceKinds(resource);
  if (kinds.length === 0) return;
  const problems = crossResourceProblems(resource, (k) => tx.all(kindNamed(k)));
  if (problems.length > 0) throw new ValidationError(problems);
}

function doCreate(tx: Tx, input: Resource): Resource {
  const prepared = prepareResource(input, { op: 'create' });
  if (prepared.errors.length > 0) throw new ValidationError(prepared.errors);
  const resource = prepared.resource;
  const kind = kindOf(resource);
  const m = metaOf(resource);
  if (tx.read(kind, m.namespace, m.name)) throw new ResourceAlreadyExistsError(idOf(kind, m.namespace, m.name));
  checkCross(tx, resource);
  m.uid = randomUUID();
  m.creationTimestamp = nowSeconds();
  return tx.put(kind, resource, undefined);
}

function doUpdate(tx: Tx, input: Resource): Resource {
  const kind = kindOf(input);
  const inMeta = metaOf(input);
  const id = idOf(kind, inMeta.namespace, inMeta.name);
  const cur = tx.read(kind, inMeta.namespace, inMeta.name);
  if (!cur) throw new ResourceNotFoundError(id);
  if (inMeta.resourceVersion !== '' && inMeta.resourceVersion !== String(cur.revision))
    throw new UpdateConflictError(id, inMeta.resourceVersion, String(cur.revision));
  const curMeta = metaOf(cur.resource);
  if (inMeta.uid !== '' && inMeta.uid !== curMeta.uid)
    throw new UpdateConflictError(id, `uid ${inMeta.uid}`, `uid ${curMeta.uid}: the object was deleted and created again`);
  const prepared = prepareResource(input, { op: 'update', previous: cur.resource });
  if (prepared.errors.length > 0) throw new ValidationError(prepared.errors);
  const resource = prepared.resource;
  const m = metaOf(resource);
  m.uid = curMeta.uid;
  m.creationTimestamp = curMeta.creationTimestamp;
  m.resourceVersion = String(cur.revision);
  m.labels = sortedMap(m.labels);
  m.annotations = sortedMap(m.annotations);
  // Finalizers belong to the services that set them: a write keeps every stored one (it
  // cannot tell "none" from "not given", and an old manifest must not drop ipam's) and adds
  // those it names. Only RemoveFinalizer (or a forced delete) takes one away.
  m.finalizers = mergeFinalizers(curMeta.finalizers, m.finalizers);
  // An IPPool's CIDR cannot change, so only its create is checked for overlaps; a BGPPeer's
  // filters must exist at every write (Calico's clientv3 checks them on Create and Update).
  if (kind.kind === 'BGPPeer') checkCross(tx, resource);
  // A write that changes nothing keeps the revision and sends no event.
  if (sameBytes(encodeResource(resource), cur.data)) return cur.resource;
  return tx.put(kind, resource, cur.data);
}

/** Create: fails with ALREADY_EXISTS, or INVALID_ARGUMENT naming the fields. */
export function createOp(input: Resource): WriteOp<Resource> {
  return (tx) => doCreate(tx, input);
}

/**
 * Update: replaces an existing object's labels, annotations, spec (and status); a set
 * resourceVersion must match. Finalizers merge: the stored ones stay and those the input
 * names are added.
 */
export function updateOp(input: Resource): WriteOp<Resource> {
  return (tx) => doUpdate(tx, input);
}

/** Apply: create the object, or update it when it exists. */
export function applyOp(input: Resource): WriteOp<{ resource: Resource; created: boolean }> {
  return (tx) => {
    const kind = kindOf(input);
    const m = metaOf(input);
    if (tx.read(kind, m.namespace, m.name)) return { resource: doUpdate(tx, input), created: false };
    // As calicoctl apply does: the create attempt ignores a resourceVersion.
    const copy = cloneResource(input);
    metaOf(copy).resourceVersion = '';
    return { resource: doCreate(tx, copy), created: true };
  };
}

/** An ApplyBatch result of one apply's outcome: its resourceVersion, or its error as Apply would answer it. */
export function batchResult(outcome: PromiseSettledResult<{ resource: Resource; created: boolean }>): ApplyBatchResult {
  if (outcome.status === 'fulfilled') return { created: outcome.value.created, resourceVersion: metaOf(outcome.value.resource).resourceVersion, error: '', code: 0 };
  const st = toGrpcStatus(outcome.reason);
  return { created: false, resourceVersion: '', error: st.details, code: st.code };
}

/**
 * Delete: returns the object as it was; a set resourceVersion must match. An object with
 * finalizers is refused (FAILED_PRECONDITION naming them) unless `force` is set.
 */
export function deleteOp(
  kind: KindInfo,
  namespace: string,
  name: string,
  resourceVersion: string,
  force: boolean,
  log: Logger,
): WriteOp<{ resource: Resource; overridden: string[] }> {
  return (tx) => {
    const cur = tx.read(kind, namespace, name);
    const id = idOf(kind, namespace, name);
    if (!cur) throw new ResourceNotFoundError(id);
    if (resourceVersion !== '' && resourceVersion !== String(cur.revision)) throw new UpdateConflictError(id, resourceVersion, String(cur.revision));
    const finalizers = [...metaOf(cur.resource).finalizers];
    if (finalizers.length > 0 && !force) throw new ServiceError('failed-precondition', finalizerRefusal(kind, namespace, name, finalizers));
    tx.remove(kind, namespace, name, cur.data);
    if (finalizers.length > 0) log.warn({ resource: id, finalizers }, 'forced delete: finalizers overridden');
    return { resource: cur.resource, overridden: finalizers };
  };
}

/** Refuses a finalizer that is not a qualified name (INVALID_ARGUMENT); undefined when it is one. */
export function finalizerNameError(finalizer: string): ServiceError | undefined {
  const problems = qualifiedNameProblems(finalizer);
  if (problems.length === 0) return undefined;
  return new ServiceError('invalid-argument', `finalizer "${finalizer}" is not a qualified name: ${problems.join('; ')}`);
}

/** Adds (`present` true) or removes one finalizer, changing nothing else; `changed` false when it already was so. */
export function setFinalizerOp(kind: KindInfo, namespace: string, name: string, finalizer: string, present: boolean): WriteOp<{ resource: Resource; changed: boolean }> {
  return (tx) => {
    const cur = tx.read(kind, namespace, name);
    if (!cur) throw new ResourceNotFoundError(idOf(kind, namespace, name));
    const m = metaOf(cur.resource);
    const has = m.finalizers.includes(finalizer);
    if (has === present) return { resource: cur.resource, changed: false };
    const resource = cloneResource(cur.resource);
    const meta = metaOf(resource);
    meta.finalizers = present ? [...meta.finalizers, finalizer] : meta.finalizers.filter((f) => f !== finalizer);
    return { resource: tx.put(kind, resource, cur.data), changed: true };
  };
}
