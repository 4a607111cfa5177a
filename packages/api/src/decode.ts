import type { Resource } from '@tabby/proto';
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments, type Node as YamlNode, type Pair, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
import { parseASNumber } from './asnumber.js';
import { ManifestError, type ManifestLocation } from './errors.js';
import { API_VERSION, KINDS, kindByExactName, wrap, type KindInfo } from './kinds.js';
import type { FieldSchema, FieldType, MessageSchema } from './schema.js';

/** A position in the manifest text (1-based). */
export interface TextPosition {
  readonly line: number;
  readonly column: number;
}

/** One resource read from a manifest, with where it came from. */
export interface ManifestResource {
  readonly resource: Resource;
  readonly kind: KindInfo;
  /** 1-based number of the YAML document that held it. */
  readonly document: number;
  /** Position of the resource itself. */
  readonly position: TextPosition;
  /** Position of a field by its path (`spec.peerIP`, `spec.allowedUses[1]`), if it was written. */
  locate(path: string): TextPosition | undefined;
}

export interface ManifestResult {
  readonly resources: ManifestResource[];
  readonly errors: ManifestError[];
}

export interface ParseManifestOptions {
  /** Name of the file (or `-`), put in front of error messages. */
  readonly source?: string;
}

type Pos = (node: { range?: [number, number, number] | null } | null | undefined) => TextPosition;

class DocumentDecoder {
  readonly errors: ManifestError[] = [];
  private positions = new Map<string, TextPosition>();

  constructor(
    private readonly doc: number,
    private readonly pos: Pos,
    private readonly source: string | undefined,
    private readonly text: string,
  ) {}

  fail(node: { range?: [number, number, number] | null } | null | undefined, path: string | undefined, problem: string, at?: TextPosition): undefined {
    const p = at ?? this.pos(node);
    const loc: ManifestLocation = { document: this.doc, line: p.line, column: p.column };
    this.errors.push(new ManifestError(problem, loc, path, this.source));
    return undefined;
  }

  takePositions(): Map<string, TextPosition> {
    const p = this.positions;
    this.positions = new Map();
    return p;
  }

  /** Decodes a resource mapping (apiVersion, kind, metadata, spec[, status]). */
  resource(node: YamlNode | null, inherited?: { kind: KindInfo }): ManifestResource | undefined {
    if (!isMap(node)) return this.fail(node, undefined, 'expected a resource: a mapping with apiVersion, kind, metadata and spec');
    this.positions = new Map();
    const kindNode = node.get('kind', true);
    const versionNode = node.get('apiVersion', true);
    const kindText = isScalar(kindNode) && typeof kindNode.value === 'string' ? kindNode.value : undefined;
    const version = isScalar(versionNode) && typeof versionNode.value === 'string' ? versionNode.value : undefined;
    let info: KindInfo | undefined;
    if (inherited && kindText === undefined && version === undefined) {
      info = inherited.kind;
    } else {
      info = kindText !== undefined ? kindByExactName(kindText) : undefined;
      if (!info || version !== API_VERSION) {
        const hint = !info && kindText ? KINDS.find((k) => k.kind.toLowerCase() === kindText.toLowerCase()) : undefined;
        const problem =
          `unknown resource type (${kindText ?? ''}) and/or version (${version ?? ''})` +
          (hint ? `: kinds are case-sensitive, did you mean ${hint.kind}?` : '') +
          (info && version !== API_VERSION ? `: use apiVersion: ${API_VERSION}` : '') +
          (!info && !hint ? `: known kinds are ${KINDS.map((k) => k.kind).join(', ')}` : '');
        return this.fail(info ? (versionNode ?? node) : (kindNode ?? node), info ? 'apiVersion' : 'kind', problem);
      }
      if (inherited && info !== inherited.kind) return this.fail(kindNode, 'kind', `item of ${article(inherited.kind.listKind)} must be ${article(inherited.kind.kind)}, not ${article(info.kind)}`);
    }
    const before = this.errors.length;
    const obj = this.message(node, info.schema, '', new Set(['apiVersion', 'kind']));
    if (this.errors.length > before || obj === undefined) return undefined;
    const positions = this.takePositions();
    const kind = info;
    return {
      resource: wrap(kind, kind.fromPartial(obj)),
      kind,
      document: this.doc,
      position: this.pos(node),
      locate: (path) => positions.get(path),
    };
  }

  private message(node: YamlNode | null, schema: MessageSchema, path: string, skip?: ReadonlySet<string>): Record<string, unknown> | undefined {
    if (isScalar(node) && node.value === null) return {};
    if (!isMap(node)) return this.fail(node, path || undefined, `expected a mapping (${schema.name}), got ${describe(node)}`);
    const out: Record<string, unknown> = {};
    for (const pair of node.items as Pair<YamlNode | null, YamlNode | null>[]) {
      const keyNode = pair.key;
      const key = isScalar(keyNode) ? keyNode.value : undefined;
      if (typeof key !== 'string') {
        this.fail(keyNode, path || undefined, 'field names must be strings');
        continue;
      }
      if (skip?.has(key)) continue;
      const fieldPath = path ? `${path}.${key}` : key;
      const field = schema.fields.find((fl) => fl.json === key);
      if (!field) {
        const near = schema.fields.find((fl) => fl.json.toLowerCase() === key.toLowerCase());
        this.fail(keyNode, fieldPath, `unknown field "${key}"${near ? `; did you mean "${near.json}"?` : ''} (${schema.name} fields: ${schema.fields.map((fl) => fl.json).join(', ')})`);
        continue;
      }
      this.positions.set(fieldPath, this.pos(keyNode));
      const v = this.value(pair.value, field, field.type, fieldPath);
      if (v !== undefined) out[field.json] = v;
    }
    return out;
  }

  private value(node: YamlNode | null, field: FieldSchema, type: FieldType, path: string): unknown {
    if (node === null || (isScalar(node) && node.value === null && !node.tag)) return undefined;
    if (this.unknownTag(node, path, field.json)) return undefined;
    switch (type.t) {
      case 'string':
        return this.scalarString(node, path);
      case 'bool':
        if (isScalar(node) && typeof node.value === 'boolean') return node.value;
        return this.fail(node, path, `expected true or false, got ${describe(node)}`);
      case 'int': {
        if (!isScalar(node) || typeof node.value !== 'number' || !Number.isInteger(node.value))
          return this.fail(node, path, `expected an integer, got ${describe(node)}`);
        if (node.value < type.min || node.value > type.max) return this.fail(node, path, `${node.value} is out of range ${type.min}-${type.max}`);
        return node.value;
      }
      case 'asNumber': {
        if (!isScalar(node)) return this.fail(node, path, `expected an AS number, got ${describe(node)}`);
        // YAML reads an unquoted 1.10 (or 1.0) as a decimal number, not as the dotted AS
        // number the user meant; only a plain integer literal is taken as a number.
        const written = (node as Scalar & { source?: string }).source ?? String(node.value);
        if (typeof node.value === 'number' && /^\d+\.\d+$/.test(written))
          return this.fail(node, path, `invalid AS Number format (${written}): YAML reads it as a decimal number; write a dotted AS number in quotes, e.g. ${field.json}: "${written}"`);
        const r = parseASNumber(typeof node.value === 'number' && !/^\d+$/.test(written) ? written : node.value);
        if ('error' in r) return this.fail(node, path, r.error);
        return r.value;
      }
      case 'numOrString':
        if (isScalar(node) && (typeof node.value === 'string' || (typeof node.value === 'number' && Number.isInteger(node.value)))) return String(node.value);
        return this.fail(node, path, `expected a name or a number, got ${describe(node)}`);
      case 'time': {
        const s = this.scalarString(node, path);
        if (s === undefined) return undefined;
        const t = Date.parse(s);
        if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) || Number.isNaN(t))
          return this.fail(node, path, `expected an RFC 3339 time such as 2024-01-02T15:04:05Z, got "${s}"`);
        return new Date(t).toISOString();
      }
      case 'list': {
        if (!isSeq(node)) return this.fail(node, path, `expected a list, got ${describe(node)}`);
        const items: unknown[] = [];
        (node as YAMLSeq<YamlNode | null>).items.forEach((item, i) => {
          const itemPath = `${path}[${i}]`;
          if (item && 'range' in item) this.positions.set(itemPath, this.pos(item));
          const v = this.value(item, field, type.of, itemPath);
          if (v !== undefined) items.push(v);
        });
        return items;
      }
      case 'map': {
        if (!isMap(node)) return this.fail(node, path, `expected a mapping of strings, got ${describe(node)}`);
        const out: Record<string, string> = {};
        for (const pair of node.items as Pair<YamlNode | null, YamlNode | null>[]) {
          const k = isScalar(pair.key) ? pair.key.value : undefined;
          if (typeof k !== 'string' && typeof k !== 'number') {
            this.fail(pair.key, path, 'keys must be strings');
            continue;
          }
          const keyPath = `${path}.${String(k)}`;
          this.positions.set(keyPath, this.pos(pair.key));
          if (this.unknownTag(pair.value, keyPath, String(k))) continue;
          const v = this.scalarString(pair.value, keyPath);
          if (v !== undefined) out[String(k)] = v;
        }
        return out;
      }
      case 'message':
        return this.message(node, type.schema, path);
    }
  }

  /**
   * Reports a scalar with a tag YAML does not know (`!has(x)` written unquoted) and says
   * how to quote it; true when it did.
   */
  private unknownTag(node: YamlNode | null, path: string, key: string): boolean {
    if (!isScalar(node) || !node.tag || node.tag.startsWith('tag:yaml.org,2002:') || node.tag.startsWith('!!')) return false;
    const written = this.writtenTagged(node, node.tag);
    this.fail(
      { range: [written.offset, written.offset, written.offset] },
      path,
      `YAML reads the unquoted value ${written.text} as a tag, because it starts with "!"; quote it: ${/\[\d+\]$/.test(path) ? '-' : `${key}:`} ${yamlQuote(written.text)}`,
    );
    return true;
  }

  /** The text of a tagged scalar as the user wrote it, from its `!` to the end of the value, and where it starts. */
  private writtenTagged(node: Scalar, tag: string): { text: string; offset: number } {
    const start = node.range?.[0] ?? 0;
    const end = node.range?.[1] ?? start;
    const lineStart = this.text.lastIndexOf('\n', start - 1) + 1;
    const tagAt = this.text.lastIndexOf(tag, start);
    if (tagAt < lineStart) return { text: `${tag}${node.value ? ` ${scalarText(node.value)}` : ''}`, offset: start };
    return { text: this.text.slice(tagAt, Math.max(end, tagAt + tag.length)).trim(), offset: tagAt };
  }

  private scalarString(node: YamlNode | null, path: string): string | undefined {
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    if (isScalar(node) && (typeof node.value === 'number' || typeof node.value === 'boolean')) {
      const src = (node as Scalar & { source?: string }).source ?? String(node.value);
      return this.fail(node, path, `expected a string, got ${typeof node.value} ${src}; quote it: "${src}"`);
    }
    if (isScalar(node) && node.value === null) return this.fail(node, path, 'expected a string, got nothing');
    return this.fail(node, path, `expected a string, got ${describe(node)}`);
  }
}

/** `an IPPool`, `a Node`: the kind with its indefinite article. */
function article(kind: string): string {
  return `${/^[AEIOU]/.test(kind) ? 'an' : 'a'} ${kind}`;
}

/** A YAML scalar in quotes: double quotes unless the text has `"` or `\`, then single quotes. */
function yamlQuote(text: string): string {
  if (!/["\\]/.test(text)) return `"${text}"`;
  if (!text.includes("'")) return `'${text}'`;
  return JSON.stringify(text);
}

/**
 * When a YAML error is on a line whose value starts with `!` (a selector such as
 * `!has(x) || y == 'z'` written unquoted), says how to quote it: YAML's own message
 * (`Block scalar header includes extra characters`, ...) does not.
 */
function bangValueHint(line: string): string | undefined {
  const m = /^\s*(?:-\s+)?(?:([^\s#'"{}[\],][^:#]*?):\s+)?(![^#]*?)\s*(?:\s#.*)?$/.exec(line);
  if (!m) return undefined;
  return `a value that starts with "!" must be quoted: ${m[1] !== undefined ? `${m[1]}:` : '-'} ${yamlQuote(m[2])}`;
}

/** A YAML scalar's value as text (strings as they are, other values as JSON writes them). */
function scalarText(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'bigint' ? v.toString() : (JSON.stringify(v) ?? 'undefined');
}

function describe(node: unknown): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return 'null';
    if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
    return `${typeof v} ${scalarText(v)}`;
  }
  return 'an unsupported YAML value';
}

/**
 * Reads a manifest: YAML (one or many `---` documents) or JSON; each document a resource,
 * a list of resources, a `List` or a `<Kind>List`. Decoding is strict like calicoctl's:
 * unknown fields and wrong types are errors. Every error names the document, its line and
 * column, the field path and the problem. Empty documents are skipped.
 */
export function parseManifest(text: string, opts: ParseManifestOptions = {}): ManifestResult {
  const trimmed = text.trimStart();
  // JSON files are often indented with tabs, which YAML forbids as indentation; a tab and a
  // space are the same width in columns, so swapping them keeps positions right.
  const source = trimmed.startsWith('{') || trimmed.startsWith('[') ? text.replace(/^\t+/gm, (m) => ' '.repeat(m.length)) : text;
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(source, { lineCounter, uniqueKeys: true, prettyErrors: true, strict: true });
  const pos: Pos = (node) => {
    const off = node?.range?.[0] ?? 0;
    const p = lineCounter.linePos(off);
    return { line: p.line, column: p.col };
  };
  const resources: ManifestResource[] = [];
  const errors: ManifestError[] = [];
  const list = Array.isArray(docs) ? docs : [docs];
  const lines = source.split('\n');
  list.forEach((doc, i) => {
    const number = i + 1;
    if (doc.errors.length > 0) {
      const hinted = new Set<number>();
      for (const e of doc.errors) {
        const lp = e.linePos?.[0];
        let problem = `YAML syntax error: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`;
        const duplicate = e.code === 'DUPLICATE_KEY' && lp ? /^\s*(?:-\s+)?["']?([^"':#]+?)["']?\s*:/.exec((lines[lp.line - 1] ?? '').slice(lp.col - 1)) : null;
        if (duplicate) problem += `: "${duplicate[1]}" is given more than once`;
        const hint = lp && !hinted.has(lp.line) ? bangValueHint(lines[lp.line - 1] ?? '') : undefined;
        if (lp && hint) {
          hinted.add(lp.line);
          problem += `; ${hint}`;
        }
        errors.push(new ManifestError(problem, lp ? { document: number, line: lp.line, column: lp.col } : undefined, undefined, opts.source));
      }
      return;
    }
    const dec = new DocumentDecoder(number, pos, opts.source, source);
    const root = doc.contents as YamlNode | null;
    if (root === null || (isScalar(root) && root.value === null)) return;
    if (isSeq(root)) {
      for (const item of (root as YAMLSeq<YamlNode | null>).items) {
        const r = dec.resource(item);
        if (r) resources.push(r);
      }
    } else if (isMap(root) && isListKind(root)) {
      const kindNode = root.get('kind', true) as Scalar<string>;
      const kindText = kindNode.value;
      const versionNode = root.get('apiVersion', true);
      const version = isScalar(versionNode) ? versionNode.value : undefined;
      const itemKind = kindText === 'List' ? undefined : kindByExactName(kindText.slice(0, -'List'.length));
      if (version !== undefined && version !== API_VERSION && !(kindText === 'List' && version === 'v1')) {
        dec.fail(versionNode, 'apiVersion', `unknown resource type (${kindText}) and/or version (${scalarText(version)}): use apiVersion: ${API_VERSION}`);
      } else {
        for (const pair of root.items as Pair<YamlNode | null, YamlNode | null>[]) {
          const k = isScalar(pair.key) ? pair.key.value : undefined;
          if (k !== 'kind' && k !== 'apiVersion' && k !== 'items' && k !== 'metadata') dec.fail(pair.key, String(k), `unknown field "${String(k)}" in ${kindText}`);
        }
        const items = root.get('items', true);
        if (items !== undefined && !(isScalar(items) && items.value === null)) {
          if (!isSeq(items)) dec.fail(items, 'items', 'expected a list of resources');
          else
            for (const item of (items as YAMLSeq<YamlNode | null>).items) {
              const r = dec.resource(item, itemKind ? { kind: itemKind } : undefined);
              if (r) resources.push(r);
            }
        }
      }
    } else {
      const r = dec.resource(root);
      if (r) resources.push(r);
    }
    errors.push(...dec.errors);
  });
  return { resources, errors };
}

function isListKind(node: YAMLMap): boolean {
  const k = node.get('kind', true);
  if (!isScalar(k) || typeof k.value !== 'string') return false;
  return k.value === 'List' || (k.value.endsWith('List') && kindByExactName(k.value.slice(0, -4)) !== undefined);
}
