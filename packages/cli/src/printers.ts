import { kindOf, metaOf, toJSON, toListObject, toManifestObject, toYAML, type KindInfo } from '@tabby/api';
import type { Resource } from '@tabby/proto';
import { COLUMNS, NAMESPACE_COLUMN, type CellContext, type Column } from './columns.js';
import { CliError } from './errors.js';
import { tabwrite } from './tabwriter.js';

export const OUTPUT_FORMATS = ['ps', 'wide', 'yaml', 'json', 'name'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** Reads `-o`; `yml` is accepted for yaml. Anything else names the formats there are. */
export function parseOutputFormat(text: string | undefined): OutputFormat {
  if (text === undefined || text === '') return 'ps';
  if (text === 'yml') return 'yaml';
  if ((OUTPUT_FORMATS as readonly string[]).includes(text)) return text as OutputFormat;
  throw new CliError(`unrecognized output format '${text}' (use one of: ${OUTPUT_FORMATS.join(', ')})`);
}

export interface PrintRequest {
  readonly format: OutputFormat;
  readonly kind: KindInfo;
  readonly resources: readonly Resource[];
  /** A list query prints one table (or one `<Kind>List`); named gets print one table (or object) per resource. */
  readonly listQuery: boolean;
  readonly revision?: string;
  /** `--export`: leave out uid, resourceVersion, creationTimestamp and namespace. */
  readonly export: boolean;
  /** Prepend NAMESPACE (namespaced kinds with -n or -A). */
  readonly namespaceColumn: boolean;
  readonly ctx: CellContext;
}

function table(columns: readonly Column[], resources: readonly Resource[], ctx: CellContext): string {
  return `${tabwrite([columns.map((c) => c.heading), ...resources.map((r) => columns.map((c) => c.cell(r, ctx)))])}\n`;
}

/** Renders what `get` prints to stdout, in calicoctl's layouts. */
export function render(req: PrintRequest): string {
  switch (req.format) {
    case 'ps':
    case 'wide': {
      const base = COLUMNS[req.kind.kind][req.format];
      const columns = req.namespaceColumn && req.kind.namespaced ? [NAMESPACE_COLUMN, ...base] : base;
      if (req.listQuery) return table(columns, req.resources, req.ctx);
      return req.resources.map((r) => table(columns, [r], req.ctx)).join('');
    }
    case 'yaml':
    case 'json': {
      const opts = { export: req.export };
      let value: unknown;
      if (req.listQuery) value = toListObject(req.kind.listKind, req.resources, req.revision, opts);
      else if (req.resources.length === 1) value = toManifestObject(req.resources[0], opts);
      else value = req.resources.map((r) => toManifestObject(r, opts));
      if (!req.listQuery && req.resources.length === 0) return '';
      return req.format === 'yaml' ? toYAML(value) : toJSON(value);
    }
    case 'name':
      return req.resources.map((r) => `${kindOf(r).kind.toLowerCase()}.projectcalico.org/${metaOf(r).name}\n`).join('');
  }
}
