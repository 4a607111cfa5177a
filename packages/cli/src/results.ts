import type { KindInfo } from '@tabby/api';
import type { CliIO } from './io.js';

export type Verb = 'create' | 'apply' | 'replace' | 'delete' | 'validate';

const PAST: Record<Verb, string> = { create: 'created', apply: 'applied', replace: 'replaced', delete: 'deleted', validate: 'validated' };

/** The outcome of one resource of a write command. */
export interface Outcome {
  readonly kind: KindInfo;
  /** Where it came from, for multi-document input: `pool.yaml: document 2, line 9`. */
  readonly where?: string;
  readonly error?: string;
}

function errorText(o: Outcome, located: boolean): string {
  return located && o.where ? `${o.where}: ${o.error ?? ''}` : (o.error ?? '');
}

/**
 * Prints calicoctl's summary of a write command and says whether it all worked:
 * `Successfully created 2 'BGPPeer' resource(s)`, `Partial success: ...` then `hit error: [...]`,
 * `failed to create 'K' resource: [...]`. With several documents, each failure names its
 * document and line.
 */
export function report(verb: Verb, outcomes: readonly Outcome[], io: CliIO): boolean {
  const kinds = new Set(outcomes.map((o) => o.kind.kind));
  const oneKind = kinds.size === 1 ? [...kinds][0] : undefined;
  const failed = outcomes.filter((o) => o.error !== undefined);
  const ok = outcomes.length - failed.length;
  const located = outcomes.length > 1;
  const errs = failed.map((o) => errorText(o, located));
  const past = PAST[verb];
  const kindText = oneKind ? ` '${oneKind}'` : '';
  if (outcomes.length === 0) {
    if (verb === 'create' || verb === 'apply') io.stdout('No resources specified\n');
    return true;
  }
  if (verb === 'delete') {
    if (ok > 0) io.stdout(`Successfully deleted ${ok}${kindText} resource(s)\n`);
    for (const o of failed) io.stderr(`Failed to delete${o.kind ? ` '${o.kind.kind}'` : ''} resource: ${errorText(o, located)}\n`);
    return failed.length === 0;
  }
  if (failed.length === 0) {
    io.stdout(`Successfully ${past} ${ok}${kindText} resource(s)\n`);
    return true;
  }
  if (verb === 'replace') {
    if (ok > 0) {
      io.stdout(`Partial success: ${past} the first ${ok} out of ${outcomes.length}${kindText} resources:\n`);
      io.stderr(`hit error: ${errs.join('\n')}\n`);
    } else if (outcomes.length === 1) {
      io.stderr(`failed to replace${kindText} resource: ${errs[0]}\n`);
    } else {
      io.stderr(`failed to replace any${kindText} resources: [${errs.join('\n')}]\n`);
    }
    return false;
  }
  if (ok > 0) {
    io.stdout(`Partial success: ${past} the first ${ok} out of ${outcomes.length}${kindText} resources:\n`);
    io.stderr(`${verb === 'apply' ? 'hit error(s)' : 'hit error'}: [${errs.join('\n')}]\n`);
  } else if (outcomes.length === 1) {
    io.stderr(`failed to ${verb}${kindText} resource: [${errs[0]}]\n`);
  } else {
    io.stderr(`failed to ${verb} any${kindText} resources: [${errs.join('\n')}]\n`);
  }
  return false;
}
