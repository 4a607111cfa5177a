import type { BGPPeer, IPPool, Resource } from '@tabby/proto';
import type { FieldError } from './errors.js';
import { metaOf, objectOf, type KindName } from './kinds.js';
import { poolOverlapProblems, Problems } from './validate/index.js';

/** The stored objects of a kind, as the write transaction sees them. */
export type StoredLookup = (kind: KindName) => readonly Resource[];

/** The kinds a resource's cross-resource rules read (the store reads only these). */
export function crossResourceKinds(resource: Resource): KindName[] {
  switch (resource.kind?.$case) {
    case 'ipPool':
      return ['IPPool'];
    case 'bgpPeer':
      return resource.kind.value.spec && resource.kind.value.spec.filters.length > 0 ? ['BGPFilter'] : [];
    default:
      return [];
  }
}

/**
 * Rules that need other stored resources; the store runs them inside the write
 * transaction so they hold under concurrent writers: an IPPool must not overlap another,
 * and every BGPFilter a BGPPeer names must exist (Calico's clientv3 BGPPeer check:
 * `BGPPeer.Spec.Filters = '[missing ...]' (BGPFilter(s) not found)`).
 */
export function crossResourceProblems(resource: Resource, stored: StoredLookup): FieldError[] {
  const p = new Problems();
  if (resource.kind?.$case === 'ipPool') {
    poolOverlapProblems(
      p,
      resource.kind.value,
      stored('IPPool').map((s) => objectOf(s) as IPPool),
    );
  }
  if (resource.kind?.$case === 'bgpPeer') {
    const peer: BGPPeer = resource.kind.value;
    const filters = peer.spec?.filters ?? [];
    if (filters.length > 0) {
      const have = new Set(stored('BGPFilter').map((f) => metaOf(f).name));
      const missing = filters.filter((f) => !have.has(f));
      if (missing.length > 0) p.add('BGPPeer.Spec.Filters', 'spec.filters', `[${missing.join(' ')}]`, 'BGPFilter(s) not found');
    }
  }
  return p.list;
}
