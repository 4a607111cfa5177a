import { wrap, type KindInfo } from '@tabby/api';
import { Resource, ResourceEvent } from '@tabby/proto';
import type { EventBus } from '@tabby/runtime';
import type { StoredEvent } from './resource-store.js';

/** NATS subject of a kind's resource events. */
export function resourceSubject(kind: string): string {
  return `tabby.v1.resources.${kind}`;
}

/** Protobuf tag of a length-delimited field. */
function lengthDelimitedTag(field: number): number {
  return (field << 3) | 2;
}

/** Bytes of a varint. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

const resourceTags = new Map<KindInfo, number>();

/** The tag of a kind's field in the Resource envelope (its oneof), read from the generated encoder once. */
function resourceTag(kind: KindInfo): number {
  let tag = resourceTags.get(kind);
  if (tag === undefined) {
    tag = Resource.encode(wrap(kind, kind.fromPartial({}))).finish()[0];
    if (tag >= 0x80) throw new Error(`${kind.kind}: Resource field numbers above 15 need a two-byte tag`);
    resourceTags.set(kind, tag);
  }
  return tag;
}

/** A Resource message field of a ResourceEvent: the kind's stored bytes inside the envelope, inside field `field`. */
function resourceField(field: number, kind: KindInfo, data: Uint8Array): Uint8Array[] {
  const envelope = [resourceTag(kind), ...varint(data.length)];
  return [Uint8Array.from([lengthDelimitedTag(field), ...varint(envelope.length + data.length), ...envelope]), data];
}

/**
 * The protobuf bytes of a ResourceEvent of a stored change. `object` and `previous` are
 * the stored bytes of the kind's message, so they are framed as Resource fields 4 and 5
 * rather than decoded and encoded again (protobuf allows fields in any order).
 */
export function encodeEvent(e: StoredEvent): Uint8Array {
  const head = ResourceEvent.encode({ type: e.type, revision: e.revision, kind: e.kind.kind, object: undefined, previous: undefined }).finish();
  const parts: Uint8Array[] = [head, ...resourceField(4, e.kind, e.data)];
  if (e.previous) parts.push(...resourceField(5, e.kind, e.previous));
  return Buffer.concat(parts);
}

/**
 * Publishes each committed change as a protobuf ResourceEvent on
 * `tabby.v1.resources.<Kind>`. A notification only: consumers that miss one resync with
 * List + Watch from the store.
 */
export function publishEvents(bus: EventBus, events: readonly StoredEvent[]): void {
  for (const e of events) bus.publish(resourceSubject(e.kind.kind), encodeEvent(e));
}
