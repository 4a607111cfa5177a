import { cloneResource, crossResourceProblems, formatFieldError, metaOf, prepareResource, type FieldError } from '@tabby/api';
import type { Resource } from '@tabby/proto';
import type { CommandContext } from '../context.js';
import { readInput, type InputResource } from '../input.js';
import { settleNamespace } from '../namespace.js';
import { report } from '../results.js';

export interface ValidateOptions {
  readonly filename: string;
  readonly recursive?: boolean;
  readonly skipEmpty?: boolean;
  readonly namespace?: string;
}

function nameOf(input: InputResource, resource: Resource): string {
  const m = metaOf(resource);
  const name = m.name === '' ? '(no name)' : input.kind.namespaced && m.namespace !== '' ? `${m.namespace}/${m.name}` : m.name;
  return `${input.kind.kind}(${name})`;
}

/** `line L, column C` of a field when the manifest wrote it, else of the resource. */
function fieldPlace(input: InputResource, e: FieldError): string {
  const p = input.locate(e.path) ?? input.position;
  return `line ${p.line}, column ${p.column}`;
}

/**
 * `tabbyctl validate -f FILE`: every check the store makes of a resource on its own
 * (fields, defaults, Calico's validation messages), and the IP pools of the input against
 * each other, without a server. Each problem names the file, document and the line of the
 * field. Exit 0 when all are valid, 1 otherwise. What only the datastore can know (a pool
 * overlapping one already stored, a BGPFilter a peer names, names already taken) is left to
 * create/apply.
 */
export async function validateCommand(opts: ValidateOptions, ctx: CommandContext): Promise<number> {
  const inputs = await readInput(opts.filename, ctx.io, { recursive: opts.recursive === true, skipEmpty: opts.skipEmpty === true });
  const pools: Resource[] = [];
  let bad = 0;
  for (const input of inputs) {
    const resource = cloneResource(input.resource);
    const where = `${input.source}: document ${input.document}, line ${input.position.line}`;
    const nsError = settleNamespace(input.kind, resource, { namespace: opts.namespace });
    if (nsError) {
      bad++;
      ctx.io.stderr(`${where}: ${nameOf(input, resource)}: ${nsError}\n`);
      continue;
    }
    const prepared = prepareResource(resource, { op: 'validate' });
    const errors = [...prepared.errors];
    if (input.kind.kind === 'IPPool' && prepared.errors.length === 0) {
      // Pools of the same input must not overlap each other (a pool of the same name is the same pool).
      const name = metaOf(prepared.resource).name;
      errors.push(...crossResourceProblems(prepared.resource, () => pools.filter((p) => metaOf(p).name !== name)));
      pools.push(prepared.resource);
    }
    if (errors.length === 0) continue;
    bad++;
    ctx.io.stderr(`${where}: ${nameOf(input, resource)} is not valid:\n`);
    for (const e of errors) ctx.io.stderr(`  ${fieldPlace(input, e)}: ${e.path}: ${formatFieldError(e)}\n`);
  }
  if (bad === 0) {
    report('validate', inputs.map((i) => ({ kind: i.kind })), ctx.io);
    return 0;
  }
  ctx.io.stderr(`${bad} of ${inputs.length} resource(s) not valid\n`);
  return 1;
}
