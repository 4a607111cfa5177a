import type { IPPool, Resource } from '@tabby/proto';
import type { FieldError } from './errors.js';
import { objectOf } from './kinds.js';
import { poolOverlapProblems, Problems } from './validate/index.js';

/**
 * Rules that need other stored resources; the store runs them inside the write
 * transaction so they hold under concurrent writers.
 */
export function crossResourceProblems(resource: Resource, siblings: readonly Resource[]): FieldError[] {
  const p = new Problems();
  if (resource.kind?.$case === 'ipPool') {
    poolOverlapProblems(
      p,
      resource.kind.value,
      siblings.map((s) => objectOf(s) as IPPool),
    );
  }
  return p.list;
}
