import type { Resource } from '@tabby/proto';
import { stringify } from 'yaml';
import { API_VERSION, kindOf, objectOf, type KindInfo } from './kinds.js';
import type { FieldType, MessageSchema } from './schema.js';

/** A resource as a plain manifest object (what YAML/JSON output shows). */
export type ManifestObject = { apiVersion: string; kind: string } & Record<string, unknown>;

export interface ToManifestOptions {
  /**
   * Leave out what ties the object to this cluster (uid, resourceVersion,
   * creationTimestamp, namespace, finalizers), as `calicoctl get --export` does, so the
   * output can be applied elsewhere.
   */
  readonly export?: boolean;
}

// Finalizers are set by the services of this cluster for what they hold in it.
const EXPORT_DROPS = new Set(['uid', 'resourceVersion', 'creationTimestamp', 'namespace', 'finalizers']);

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

function encodeValue(v: unknown, type: FieldType): unknown {
  switch (type.t) {
    case 'list':
      return (v as unknown[]).map((x) => encodeValue(x, type.of));
    case 'map': {
      const entries = Object.entries(v as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return Object.fromEntries(entries);
    }
    case 'message':
      return encodeMessage(v as Record<string, unknown>, type.schema, false);
    case 'time':
      // RFC 3339 as Kubernetes prints it: no fraction when it is zero.
      return typeof v === 'string' ? v.replace(/\.000Z$/, 'Z') : v;
    default:
      return v;
  }
}

function encodeMessage(obj: Record<string, unknown> | undefined, schema: MessageSchema, exporting: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!obj) return out;
  for (const field of schema.fields) {
    if (exporting && EXPORT_DROPS.has(field.json)) continue;
    const v = obj[field.json];
    if (field.presence ? v === undefined || v === null : isEmpty(v)) continue;
    out[field.json] = encodeValue(v, field.type);
  }
  return out;
}

/** The manifest form of a resource: apiVersion, kind, metadata, spec (and status), zero values left out. */
export function toManifestObject(resource: Resource, opts: ToManifestOptions = {}): ManifestObject {
  const kind: KindInfo = kindOf(resource);
  const obj = objectOf(resource) as unknown as Record<string, unknown>;
  const out: ManifestObject = { apiVersion: API_VERSION, kind: kind.kind };
  for (const field of kind.schema.fields) {
    if (field.type.t !== 'message') continue;
    const value = encodeMessage(obj[field.json] as Record<string, unknown> | undefined, field.type.schema, opts.export === true && field.json === 'metadata');
    // metadata and spec are always printed, as calicoctl does; an empty status is a zero
    // value like any other (and printing it would make a read-back differ from the original).
    if (field.json === 'status' && Object.keys(value).length === 0) continue;
    out[field.json] = value;
  }
  return out;
}

/** A `<Kind>List` (or `List` when kinds are mixed) object holding resources, as calicoctl prints list queries. */
export function toListObject(kind: string, resources: readonly Resource[], revision: string | undefined, opts: ToManifestOptions = {}): ManifestObject {
  return {
    apiVersion: API_VERSION,
    kind,
    items: resources.map((r) => toManifestObject(r, opts)),
    metadata: revision && !opts.export ? { resourceVersion: revision } : {},
  };
}

/** YAML text with keys sorted alphabetically at every level, as calicoctl prints. */
export function toYAML(value: unknown): string {
  return stringify(value, { sortMapEntries: true, lineWidth: 0, indent: 2, indentSeq: false });
}

/** JSON text with 2-space indentation and a final newline. */
export function toJSON(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
