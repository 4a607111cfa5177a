import type { BGPConfiguration, BGPFilter, BGPPeer, IPAMConfiguration, IPPool, IPReservation, Node, NodeStatus, Resource, WorkloadEndpoint } from '@tabby/proto';
import type { FieldError } from '../errors.js';
import { FIELD_SUPPORT_KINDS, refusedFieldProblems, type FieldSupportKind } from '../field-support.js';
import { cloneResource, kindOf, metaOf, objectOf } from '../kinds.js';
import { validateBGPConfiguration } from './bgp-configuration.js';
import { defaultBGPFilter, validateBGPFilter } from './bgp-filter.js';
import { validateBGPPeer } from './bgp-peer.js';
import { defaultIPPool, validateIPPool } from './ip-pool.js';
import { defaultIPAMConfiguration, validateIPAMConfiguration, validateIPReservation } from './ipam.js';
import { validateMeta } from './meta.js';
import { validateNode } from './node.js';
import { validateNodeStatus } from './node-status.js';
import { Problems } from './problems.js';
import { defaultWorkloadEndpoint, validateWorkloadEndpoint } from './workload-endpoint.js';

/** What a resource is being checked for. */
export interface PrepareContext {
  /** `create` also requires an empty resourceVersion; `validate` checks without a store. */
  readonly op: 'create' | 'update' | 'validate';
  /** The stored object, for rules about what may change (IPPool CIDR, blockSize). */
  readonly previous?: Resource;
}

export interface Prepared {
  /** A copy with Calico's defaults filled in and values normalised. */
  readonly resource: Resource;
  readonly errors: FieldError[];
}

/**
 * Fills defaults and checks every single-resource rule of the resource's kind, as Calico's
 * client and validator do. Cross-resource rules (pool overlaps, uniqueness) are the
 * store's, inside its write transaction.
 */
export function prepareResource(input: Resource, ctx: PrepareContext): Prepared {
  const resource = cloneResource(input);
  const kind = kindOf(resource);
  const meta = metaOf(resource);
  const p = new Problems();
  if (ctx.op === 'create' && meta.resourceVersion !== '')
    p.add('Metadata.ResourceVersion', 'metadata.resourceVersion', meta.resourceVersion, 'field must not be set for a Create request');
  const obj = objectOf(resource);
  switch (kind.kind) {
    case 'IPPool':
      defaultIPPool(obj as IPPool);
      break;
    case 'WorkloadEndpoint':
      defaultWorkloadEndpoint(obj as WorkloadEndpoint);
      break;
    case 'BGPFilter':
      defaultBGPFilter(obj as BGPFilter);
      break;
    case 'IPAMConfiguration':
      defaultIPAMConfiguration(obj as IPAMConfiguration);
      break;
    default:
      break;
  }
  validateMeta(p, kind, meta, ctx.op);
  const previous = ctx.previous ? objectOf(ctx.previous) : undefined;
  switch (kind.kind) {
    case 'BGPConfiguration':
      validateBGPConfiguration(p, obj as BGPConfiguration);
      break;
    case 'BGPPeer':
      validateBGPPeer(p, obj as BGPPeer);
      break;
    case 'BGPFilter':
      validateBGPFilter(p, obj as BGPFilter);
      break;
    case 'Node':
      validateNode(p, obj as Node);
      break;
    case 'IPPool':
      validateIPPool(p, obj as IPPool, previous as IPPool | undefined);
      break;
    case 'WorkloadEndpoint':
      validateWorkloadEndpoint(p, obj as WorkloadEndpoint);
      break;
    case 'NodeStatus':
      validateNodeStatus(p, obj as NodeStatus);
      break;
    case 'IPReservation':
      validateIPReservation(p, obj as IPReservation);
      break;
    case 'IPAMConfiguration':
      validateIPAMConfiguration(p, obj as IPAMConfiguration, meta);
      break;
  }
  // No setting silently ignored: a field Tabby does not implement is refused (docs/fields.md).
  if ((FIELD_SUPPORT_KINDS as readonly string[]).includes(kind.kind)) p.list.push(...refusedFieldProblems(kind.kind as FieldSupportKind, kind.schema, obj));
  return { resource, errors: p.list };
}

export { Problems } from './problems.js';
export { ALLOWED_USES, DEFAULT_BLOCK_SIZE_V4, DEFAULT_BLOCK_SIZE_V6, ENCAP_MODES, poolOverlapProblems } from './ip-pool.js';
export { LOG_SEVERITIES, isCommunityValue } from './bgp-configuration.js';
export { FILTER_ACTIONS, FILTER_MATCH_OPERATORS, FILTER_SOURCES } from './bgp-filter.js';
export { LABEL_NAMESPACE, LABEL_ORCHESTRATOR } from './workload-endpoint.js';
export { PEER_TYPES } from './node-status.js';
export { DEFAULT_MAX_BLOCKS_PER_HOST, IPAM_CONFIGURATION_NAME } from './ipam.js';
