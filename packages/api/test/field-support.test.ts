/**
 * No setting silently ignored: every field of BGPConfiguration, BGPPeer and BGPFilter, found by
 * walking both the protobuf descriptors and schema.ts, has an entry in FIELD_SUPPORT; the
 * tables in docs/fields.md are exactly what FIELD_SUPPORT renders (UPDATE_GOLDEN=1 rewrites
 * them); and every refused field is refused at write time with its message.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createFileRegistry, fromBinary, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { loadDescriptorSet } from '@tabby/proto';
import { describe, expect, it } from 'vitest';
import {
  FIELD_SUPPORT,
  FIELD_SUPPORT_KINDS,
  NOT_SUPPORTED,
  fieldSupportMarkdown,
  metadataSupportMarkdown,
  mustFindKind,
  prepareResource,
  schemaFieldPaths,
  validationMessage,
  type FieldSupportKind,
} from '../src/index.js';
import { resourceOf } from './helpers.js';

const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, loadDescriptorSet()));

/** Every field path below a proto message, by JSON name, lists as `[]`; Timestamps are leaves. */
function descriptorPaths(m: DescMessage, prefix = ''): string[] {
  const out: string[] = [];
  for (const f of m.fields) {
    const key = `${prefix}${f.jsonName}`;
    out.push(key);
    const child = f.fieldKind === 'message' ? f.message : f.fieldKind === 'list' && f.listKind === 'message' ? f.message : undefined;
    if (child && child.typeName !== 'google.protobuf.Timestamp') out.push(...descriptorPaths(child, f.fieldKind === 'list' ? `${key}[].` : `${key}.`));
  }
  return out;
}

describe.each(FIELD_SUPPORT_KINDS)('%s: every field has a status', (kind) => {
  const table = FIELD_SUPPORT[kind];
  const schemaKeys = schemaFieldPaths(mustFindKind(kind).schema).map((w) => w.key);

  it('walking the protobuf descriptor finds no field missing from FIELD_SUPPORT', () => {
    const message = registry.getMessage(`tabby.v1.${kind}`);
    expect(message).toBeDefined();
    const keys = descriptorPaths(message!);
    expect(keys.filter((k) => !(k in table))).toEqual([]);
    expect(keys.length).toBeGreaterThan(10);
  });

  it('walking schema.ts finds no field missing from FIELD_SUPPORT', () => {
    expect(schemaKeys.filter((k) => !(k in table))).toEqual([]);
  });

  it('lists no field the kind does not have', () => {
    expect(Object.keys(table).filter((k) => !schemaKeys.includes(k))).toEqual([]);
  });

  it('says what each field does, or why it is refused', () => {
    expect(Object.entries(table).filter(([, e]) => e.note.trim() === '').map(([k]) => k)).toEqual([]);
  });
});

describe('docs/fields.md', () => {
  const path = fileURLToPath(new URL('../../../docs/fields.md', import.meta.url));
  const sections: [string, string][] = [['metadata', metadataSupportMarkdown()], ...FIELD_SUPPORT_KINDS.map((k): [string, string] => [k, fieldSupportMarkdown(k, mustFindKind(k).schema)])];

  /** The doc with each generated block replaced by what FIELD_SUPPORT renders. */
  function rendered(doc: string): string {
    let out = doc;
    for (const [name, table] of sections) {
      const begin = `<!-- BEGIN field-support ${name} -->`;
      const end = `<!-- END field-support ${name} -->`;
      const a = out.indexOf(begin);
      const b = out.indexOf(end);
      if (a < 0 || b < a) throw new Error(`docs/fields.md lacks the ${begin} … ${end} block`);
      out = `${out.slice(0, a + begin.length)}\n${table}\n${out.slice(b)}`;
    }
    return out;
  }

  it('holds exactly the tables FIELD_SUPPORT renders (UPDATE_GOLDEN=1 rewrites them)', () => {
    const doc = readFileSync(path, 'utf8');
    const want = rendered(doc);
    if (process.env.UPDATE_GOLDEN === '1' && want !== doc) writeFileSync(path, want);
    else expect(doc).toBe(want);
  });

  it('names every refused field with its error reason', () => {
    const doc = readFileSync(path, 'utf8');
    for (const kind of FIELD_SUPPORT_KINDS)
      for (const [key, e] of Object.entries(FIELD_SUPPORT[kind]))
        if (e.status === 'refused') expect(doc).toContain(`| \`${key}\` | refused | \`${NOT_SUPPORTED}: ${e.note}\` |`);
  });
});

/**
 * For each refused field: a resource that is valid except that it sets the field, the field
 * name and value the error shows. A refused field without a sample fails the test below.
 */
const REFUSED_SAMPLES: Record<string, { kind: FieldSupportKind; name?: string; spec: object; field: string; path: string; value: string }> = {
  'BGPConfiguration spec.ignoredInterfaces': {
    kind: 'BGPConfiguration',
    name: 'default',
    spec: { ignoredInterfaces: ['eth0', 'docker*'] },
    field: 'BGPConfiguration.Spec.IgnoredInterfaces',
    path: 'spec.ignoredInterfaces',
    value: '[eth0 docker*]',
  },
  'BGPConfiguration spec.localWorkloadPeeringIPV4': {
    kind: 'BGPConfiguration',
    name: 'default',
    spec: { localWorkloadPeeringIPV4: '169.254.0.179' },
    field: 'BGPConfiguration.Spec.LocalWorkloadPeeringIPV4',
    path: 'spec.localWorkloadPeeringIPV4',
    value: '169.254.0.179',
  },
  'BGPConfiguration spec.localWorkloadPeeringIPV6': {
    kind: 'BGPConfiguration',
    name: 'default',
    spec: { localWorkloadPeeringIPV6: 'fe80::179' },
    field: 'BGPConfiguration.Spec.LocalWorkloadPeeringIPV6',
    path: 'spec.localWorkloadPeeringIPV6',
    value: 'fe80::179',
  },
  'BGPPeer spec.localWorkloadSelector': {
    kind: 'BGPPeer',
    spec: { localWorkloadSelector: "app == 'metallb'", asNumber: 65010 },
    field: 'BGPPeer.Spec.LocalWorkloadSelector',
    path: 'spec.localWorkloadSelector',
    value: "app == 'metallb'",
  },
  'BGPFilter spec.importV4[].interface': {
    kind: 'BGPFilter',
    spec: { importV4: [{ cidr: '10.0.0.0/8', matchOperator: 'In', action: 'Accept' }, { interface: 'eth*', action: 'Reject' }] },
    field: 'BGPFilter.Spec.ImportV4[1].Interface',
    path: 'spec.importV4[1].interface',
    value: 'eth*',
  },
  'BGPFilter spec.importV6[].interface': {
    kind: 'BGPFilter',
    spec: { importV6: [{ interface: 'vxlan.calico', action: 'Accept' }] },
    field: 'BGPFilter.Spec.ImportV6[0].Interface',
    path: 'spec.importV6[0].interface',
    value: 'vxlan.calico',
  },
};

const refusedKeys = FIELD_SUPPORT_KINDS.flatMap((kind) =>
  Object.entries(FIELD_SUPPORT[kind])
    .filter(([, e]) => e.status === 'refused')
    .map(([key, e]) => [`${kind} ${key}`, e.note] as const),
);

describe('refused fields', () => {
  it('each has a sample here', () => {
    expect(refusedKeys.map(([k]) => k).sort()).toEqual(Object.keys(REFUSED_SAMPLES).sort());
  });

  it.each(refusedKeys)('%s is refused on create, update and validate with its message', (key, note) => {
    const s = REFUSED_SAMPLES[key];
    const reason = `${NOT_SUPPORTED}: ${note}`;
    const resource = resourceOf(s.kind, { name: s.name ?? 'x' }, s.spec);
    for (const op of ['create', 'update', 'validate'] as const) {
      const { errors } = prepareResource(resource, { op });
      expect(errors).toEqual([{ field: s.field, path: s.path, value: s.value, reason }]);
      expect(validationMessage(errors)).toBe(`error with field ${s.field} = '${s.value}' (${reason})`);
    }
  });

  it.each(refusedKeys)('%s unset (or empty) is accepted', (key) => {
    const s = REFUSED_SAMPLES[key];
    const [, path] = key.split(' ');
    const top = path.split('.')[1].replace('[]', '');
    const spec = { ...s.spec, [top]: Array.isArray((s.spec as Record<string, unknown>)[top]) ? [] : '' };
    if (s.kind === 'BGPPeer') Object.assign(spec, { peerIP: '10.0.0.1' });
    expect(prepareResource(resourceOf(s.kind, { name: s.name ?? 'x' }, spec), { op: 'create' }).errors).toEqual([]);
  });
});
