/**
 * The file of `tabbyctl datastore migrate export | import`: one YAML stream, the store's
 * resources as projectcalico.org/v3 manifests (as `get -o yaml` prints them, without
 * resourceVersion), then Calico's IPAM objects as `crd.projectcalico.org/v1` documents
 * (IPAMConfig, IPAMBlock, BlockAffinity, IPAMHandle), as calicoctl's export writes them.
 */
import { cidrContains, metaOf, objectOf, parseCIDR, parseManifest, toManifestObject, toYAML, type ParsedCIDR } from '@tabby/api';
import type { DatastoreRecord, IPPool, IpamBlockRecord, Resource } from '@tabby/proto';
import { Document, LineCounter, isMap, isSeq, parseAllDocuments, type Node as YamlNode } from 'yaml';

export const IPAM_API_VERSION = 'crd.projectcalico.org/v1';
/** Annotation of an exported IPAMBlock: the CIDR of the IPPool it was carved from. */
export const POOL_ANNOTATION = 'ipam.tabby.io/pool-cidr';

/** A problem of the file, with where it is. */
export class DatastoreFileError extends Error {
  override readonly name = 'DatastoreFileError';
}

const dashed = (text: string): string => text.replace(/[./:]/g, '-').toLowerCase();

function ipamDocument(kind: string, name: string, spec: Record<string, unknown>, annotations?: Record<string, string>): string {
  const doc = new Document({ apiVersion: IPAM_API_VERSION, kind, metadata: { name, ...(annotations ? { annotations } : {}) }, spec }, { sortMapEntries: false });
  // Long per-ordinal lists on one line each: a /26 block stays a screenful.
  for (const key of ['allocations', 'unallocated']) {
    const node = doc.getIn(['spec', key], true);
    if (isSeq(node)) node.flow = true;
  }
  const attrs = doc.getIn(['spec', 'attributes'], true);
  if (isSeq(attrs)) for (const item of attrs.items) if (isMap(item)) {
    const secondary = item.get('secondary', true);
    if (isMap(secondary)) secondary.flow = true;
  }
  return doc.toString({ lineWidth: 0, indent: 2, indentSeq: false, flowCollectionPadding: false });
}

function blockSpec(b: IpamBlockRecord): Record<string, unknown> {
  return {
    cidr: b.cidr,
    affinity: b.affinity === '' ? null : b.affinity,
    strictAffinity: b.strictAffinity,
    allocations: b.allocations.map((a) => (a < 0 ? null : a)),
    unallocated: [...b.unallocated],
    attributes: b.attributes.map((a) => ({ handle_id: a.handleId, secondary: Object.fromEntries(Object.entries(a.secondary).sort(([x], [y]) => (x < y ? -1 : 1))) })),
    deleted: b.deleted,
    sequenceNumber: b.sequenceNumber,
    sequenceNumberForAllocation: { ...b.sequenceNumberForAllocation },
  };
}

/** The export file: a header comment, then one document per record. */
export function encodeDatastoreFile(header: readonly string[], records: readonly DatastoreRecord[]): string {
  const parts: string[] = [header.map((l) => `# ${l}\n`).join('')];
  const docs: string[] = [];
  for (const rec of records) {
    const r = rec.record;
    switch (r?.$case) {
      case 'resource':
        docs.push(toYAML(toManifestObject(r.value)));
        break;
      case 'ipamConfig':
        docs.push(ipamDocument('IPAMConfig', 'default', { strictAffinity: r.value.strictAffinity, autoAllocateBlocks: r.value.autoAllocateBlocks, maxBlocksPerHost: r.value.maxBlocksPerHost }));
        break;
      case 'ipamBlock':
        docs.push(ipamDocument('IPAMBlock', dashed(r.value.cidr), blockSpec(r.value), r.value.poolCidr ? { [POOL_ANNOTATION]: r.value.poolCidr } : undefined));
        break;
      case 'ipamAffinity':
        docs.push(ipamDocument('BlockAffinity', `${r.value.node}-${dashed(r.value.cidr)}`, { state: r.value.state, node: r.value.node, cidr: r.value.cidr, deleted: 'false' }));
        break;
      case 'ipamHandle':
        docs.push(ipamDocument('IPAMHandle', r.value.handleId.toLowerCase(), { handleID: r.value.handleId, block: { ...r.value.block }, deleted: false }));
        break;
      default:
        break;
    }
  }
  return parts[0] + docs.map((d) => `---\n${d}`).join('');
}

/** What an import file holds: records for tabby-store and for tabby-ipam. */
export interface DatastoreFile {
  readonly resources: DatastoreRecord[];
  readonly ipam: DatastoreRecord[];
}

type Obj = Record<string, unknown>;

class SpecReader {
  constructor(
    private readonly where: string,
    private readonly spec: Obj,
  ) {}
  fail(field: string, problem: string): never {
    throw new DatastoreFileError(`${this.where}: spec.${field}: ${problem}`);
  }
  string(field: string, required = true): string {
    const v = this.spec[field];
    if (v === undefined || v === null) {
      if (required) this.fail(field, 'missing');
      return '';
    }
    if (typeof v !== 'string') this.fail(field, 'expected a string');
    return v;
  }
  bool(field: string): boolean {
    const v = this.spec[field];
    if (v === undefined || v === null) return false;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    this.fail(field, 'expected true or false');
  }
  uint(field: string, v: unknown = this.spec[field]): number {
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) this.fail(field, `expected a whole number ≥ 0, found ${JSON.stringify(v)}`);
    return v;
  }
  list(field: string): unknown[] {
    const v = this.spec[field];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(field, 'expected a list');
    return v;
  }
  map(field: string, v: unknown = this.spec[field]): Obj {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(field, 'expected a map');
    return v as Obj;
  }
  strings(field: string, v: unknown): Record<string, string> {
    const m = this.map(field, v);
    for (const [k, x] of Object.entries(m)) if (typeof x !== 'string') this.fail(`${field}.${k}`, 'expected a string');
    return m as Record<string, string>;
  }
}

function ipamRecord(kind: string, obj: Obj, where: string): DatastoreRecord {
  const spec = obj.spec;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new DatastoreFileError(`${where}: spec: missing or not a map`);
  const s = new SpecReader(where, spec as Obj);
  const known: Record<string, readonly string[]> = {
    IPAMConfig: ['strictAffinity', 'autoAllocateBlocks', 'maxBlocksPerHost'],
    IPAMBlock: ['cidr', 'affinity', 'strictAffinity', 'allocations', 'unallocated', 'attributes', 'deleted', 'sequenceNumber', 'sequenceNumberForAllocation'],
    BlockAffinity: ['state', 'node', 'cidr', 'deleted'],
    IPAMHandle: ['handleID', 'block', 'deleted'],
  };
  const fields = known[kind];
  if (fields === undefined) throw new DatastoreFileError(`${where}: kind ${kind} is not an IPAM kind (IPAMConfig, IPAMBlock, BlockAffinity, IPAMHandle)`);
  for (const f of Object.keys(spec)) if (!fields.includes(f)) s.fail(f, `unknown field of ${kind}`);
  switch (kind) {
    case 'IPAMConfig':
      return { record: { $case: 'ipamConfig', value: { strictAffinity: s.bool('strictAffinity'), autoAllocateBlocks: s.bool('autoAllocateBlocks'), maxBlocksPerHost: s.uint('maxBlocksPerHost') } } };
    case 'IPAMBlock': {
      const meta = (obj.metadata ?? {}) as Obj;
      const annotations = (meta.annotations ?? {}) as Obj;
      const pool = annotations[POOL_ANNOTATION];
      const attributes = s.list('attributes').map((a, i) => {
        const m = s.map(`attributes[${i}]`, a);
        const handle = m.handle_id;
        if (typeof handle !== 'string' || handle === '') return s.fail(`attributes[${i}].handle_id`, 'missing or not a string');
        return { handleId: handle, secondary: s.strings(`attributes[${i}].secondary`, m.secondary) };
      });
      const allocations = s.list('allocations').map((a, i) => (a === null ? -1 : s.uint(`allocations[${i}]`, a)));
      const seq = s.map('sequenceNumberForAllocation');
      return {
        record: {
          $case: 'ipamBlock',
          value: {
            cidr: s.string('cidr'),
            affinity: s.string('affinity', false),
            strictAffinity: s.bool('strictAffinity'),
            allocations,
            unallocated: s.list('unallocated').map((o, i) => s.uint(`unallocated[${i}]`, o)),
            attributes,
            deleted: s.bool('deleted'),
            sequenceNumber: s.uint('sequenceNumber'),
            sequenceNumberForAllocation: Object.fromEntries(Object.entries(seq).map(([k, v]) => [k, s.uint(`sequenceNumberForAllocation.${k}`, v)])),
            poolCidr: typeof pool === 'string' ? pool : '',
          },
        },
      };
    }
    case 'BlockAffinity':
      return { record: { $case: 'ipamAffinity', value: { node: s.string('node'), cidr: s.string('cidr'), state: s.string('state', false) || 'confirmed' } } };
    default: {
      const block = s.map('block');
      return { record: { $case: 'ipamHandle', value: { handleId: s.string('handleID'), block: Object.fromEntries(Object.entries(block).map(([k, v]) => [k, s.uint(`block.${k}`, v)])) } } };
    }
  }
}

/** The IPPool containing a block, from the pools of the same file. */
function poolOf(pools: readonly { cidr: ParsedCIDR }[], blockCidr: string): string {
  const b = parseCIDR(blockCidr);
  if (!b) return '';
  return pools.find((p) => cidrContains(p.cidr, b.address) && p.cidr.prefix <= b.prefix)?.cidr.canonical ?? '';
}

/**
 * Reads an export file. Errors name the file, the document and its line; the resources are
 * decoded as strictly as `create -f` decodes them.
 */
export function decodeDatastoreFile(text: string, source: string): DatastoreFile {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, strict: true, uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  // The resources go through the manifest decoder with the IPAM documents blanked out
  // (kept as blank lines), so its positions are those of the file.
  let manifestText = text;
  const ipam: DatastoreRecord[] = [];
  list.forEach((doc, i) => {
    if (doc.errors.length > 0) return; // parseManifest names them with their line
    const contents = doc.contents as YamlNode | null;
    const js = doc.toJS() as unknown;
    if (!js || typeof js !== 'object' || Array.isArray(js)) return;
    const obj = js as Obj;
    if (obj.apiVersion !== IPAM_API_VERSION) return;
    const start = contents?.range?.[0] ?? 0;
    const end = contents?.range?.[2] ?? start;
    const line = lineCounter.linePos(start).line;
    const where = `${source}: document ${i + 1} (line ${line}): ${typeof obj.kind === 'string' ? obj.kind : 'object'}`;
    if (typeof obj.kind !== 'string') throw new DatastoreFileError(`${where}: kind is missing`);
    ipam.push(ipamRecord(obj.kind, obj, where));
    manifestText = manifestText.slice(0, start) + manifestText.slice(start, end).replace(/[^\n]/g, ' ') + manifestText.slice(end);
  });
  const parsed = parseManifest(manifestText, { source });
  if (parsed.errors.length > 0) throw new DatastoreFileError(parsed.errors.map((e) => e.message).join('\n'));
  const resources: DatastoreRecord[] = parsed.resources.map((m) => ({ record: { $case: 'resource', value: m.resource } }));
  // Each block is given its pool (from the file's IPPools when the export did not say it).
  const pools = parsed.resources
    .map((m) => m.resource)
    .filter((r: Resource) => r.kind?.$case === 'ipPool')
    .map((r) => ({ name: metaOf(r).name, cidr: parseCIDR((objectOf(r) as IPPool).spec?.cidr ?? '') }))
    .filter((p): p is { name: string; cidr: ParsedCIDR } => p.cidr !== undefined);
  for (const rec of ipam) if (rec.record?.$case === 'ipamBlock' && rec.record.value.poolCidr === '') rec.record.value.poolCidr = poolOf(pools, rec.record.value.cidr);
  return { resources, ipam };
}
