/**
 * The descriptor tables of schema.ts against the protobuf contract: every message reachable
 * from a kind must have exactly the proto message's fields (by JSON name), of the matching
 * type, with presence where proto3 says `optional`. Adding a proto field without its
 * schema entry (or the reverse) fails here.
 */
import { ScalarType, createFileRegistry, fromBinary, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { loadDescriptorSet } from '@tabby/proto';
import { describe, expect, it } from 'vitest';
import { KINDS, allSchemas, type FieldSchema, type FieldType, type MessageSchema } from '../src/index.js';

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, loadDescriptorSet()));

function protoMessage(name: string): DescMessage {
  const m = registry.getMessage(`tabby.v1.${name}`);
  if (!m) throw new Error(`no message tabby.v1.${name} in the descriptor set`);
  return m;
}

/** Every schema reachable from the kinds, once each, with the kinds that reach it. */
const schemas = new Map<string, { schema: MessageSchema; kinds: string[] }>();
/** Names used by two different tables (allSchemas would silently check only the first). */
const clashes: string[] = [];
for (const k of KINDS) {
  for (const s of allSchemas(k.schema)) {
    const seen = schemas.get(s.name);
    if (seen && seen.schema !== s) clashes.push(s.name);
    if (seen) seen.kinds.push(k.kind);
    else schemas.set(s.name, { schema: s, kinds: [k.kind] });
  }
}
const rows = [...schemas.values()].map(({ schema, kinds }) => [schema.name, kinds.join(', '), schema] as const);

/** The integer range of a proto scalar type, for the scalars the schema calls `int`. */
const INT_RANGE: Partial<Record<ScalarType, readonly [number, number]>> = {
  [ScalarType.INT32]: [-2147483648, 2147483647],
  [ScalarType.UINT32]: [0, 4294967295],
};

/** What schema type a proto field must have, as text, so a mismatch reads well in the diff. */
function protoType(f: DescField): string {
  const scalar = (t: ScalarType): string => (t === ScalarType.STRING ? 'string' : t === ScalarType.BOOL ? 'bool' : INT_RANGE[t] ? `int ${ScalarType[t]}` : ScalarType[t]);
  switch (f.fieldKind) {
    case 'scalar':
      return scalar(f.scalar);
    case 'message':
      return f.message.typeName === 'google.protobuf.Timestamp' ? 'time' : `message ${f.message.name}`;
    case 'list':
      return `list of ${f.listKind === 'scalar' ? scalar(f.scalar) : f.listKind === 'message' ? `message ${f.message.name}` : 'enum'}`;
    case 'map':
      return f.mapKind === 'scalar' && f.mapKey === ScalarType.STRING && f.scalar === ScalarType.STRING ? 'map' : 'map of non-strings';
    case 'enum':
      return 'enum';
  }
}

/** The schema type, written the way {@link protoType} writes the proto one it must match. */
function schemaType(t: FieldType, proto: DescField): string {
  switch (t.t) {
    case 'string':
    case 'bool':
    case 'map':
    case 'time':
      return t.t;
    // Stored as a string (numorstring), an AS number as a uint32.
    case 'numOrString':
      return 'string';
    case 'asNumber':
      return `int ${ScalarType[ScalarType.UINT32]}`;
    case 'int': {
      // The schema may narrow a proto range (ports are uint32 in proto, 0-65535 here) but not widen it.
      const s = proto.fieldKind === 'scalar' ? proto.scalar : undefined;
      const range = s === undefined ? undefined : INT_RANGE[s];
      return range && t.min >= range[0] && t.max <= range[1] ? `int ${ScalarType[s!]}` : `int ${t.min}..${t.max}`;
    }
    case 'message':
      return `message ${t.schema.name}`;
    case 'list':
      return `list of ${schemaType(t.of, proto).replace(/^list of /, '')}`;
  }
}

function isScalar(f: FieldSchema): boolean {
  return f.type.t !== 'message' && f.type.t !== 'list' && f.type.t !== 'map';
}

describe('schema.ts against the protobuf descriptors', () => {
  it('has one table per message name', () => {
    expect(clashes).toEqual([]);
  });

  it('reaches every message a kind is made of', () => {
    expect(rows.map(([name]) => name).sort()).toEqual(
      [
        'AgentStatus',
        'BGPConfiguration',
        'BGPConfigurationSpec',
        'BGPDaemonStatus',
        'BGPFilter',
        'BGPFilterPrefixLengthV4',
        'BGPFilterPrefixLengthV6',
        'BGPFilterRuleV4',
        'BGPFilterRuleV6',
        'BGPFilterSpec',
        'BGPPeer',
        'BGPPeerSpec',
        'BGPPeerStatus',
        'Community',
        'IPNAT',
        'IPAMConfiguration',
        'IPAMConfigurationSpec',
        'IPPool',
        'IPPoolSpec',
        'IPReservation',
        'IPReservationSpec',
        'Node',
        'NodeAddress',
        'NodeBGPSpec',
        'NodeInterface',
        'NodeRuntimeStatus',
        'NodeSpec',
        'NodeStatus',
        'NodeStatusReport',
        'NodeStatusSpec',
        'NodeWireguardSpec',
        'ObjectMeta',
        'OrchRef',
        'PrefixAdvertisement',
        'RouteProblem',
        'RoutingStatus',
        'SecretKeySelector',
        'SecretSource',
        'ServiceCIDR',
        'WorkloadEndpoint',
        'WorkloadEndpointPort',
        'WorkloadEndpointSpec',
      ].sort(),
    );
  });

  it('names each kind after the message of its Resource oneof case', () => {
    const resource = protoMessage('Resource');
    expect(KINDS.map((k) => [k.oneofCase, k.schema.name])).toEqual(KINDS.map((k) => [k.oneofCase, resource.fields.find((f) => f.localName === k.oneofCase)?.message?.name]));
    expect(resource.fields.map((f) => f.localName).sort()).toEqual(KINDS.map((k) => k.oneofCase).sort());
  });

  describe.each(rows)('%s (in %s)', (name, _kinds, schema) => {
    const message = protoMessage(name);

    it('has exactly the fields of the proto message, by JSON name, in field-number order', () => {
      expect(schema.fields.map((f) => f.json)).toEqual(message.fields.map((f) => f.jsonName));
    });

    it('gives each field the type of its proto field', () => {
      const byJson = new Map(message.fields.map((f) => [f.jsonName, f]));
      const pairs = schema.fields.filter((f) => byJson.has(f.json)).map((f) => [f.json, schemaType(f.type, byJson.get(f.json)!), protoType(byJson.get(f.json)!)]);
      expect(pairs.map(([json, s]) => [json, s])).toEqual(pairs.map(([json, , p]) => [json, p]));
    });

    it('marks exactly the proto3 optional scalars as presence fields', () => {
      const optional = new Set(message.fields.filter((f) => f.proto.proto3Optional).map((f) => f.jsonName));
      expect(schema.fields.filter(isScalar).map((f) => [f.json, f.presence === true])).toEqual(schema.fields.filter(isScalar).map((f) => [f.json, optional.has(f.json)]));
    });
  });
});
