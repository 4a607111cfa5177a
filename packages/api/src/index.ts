/**
 * Tabby's resource model: the kinds and their CLI aliases, Calico's defaults and
 * validation rules, and manifests (YAML/JSON) to and from the protobuf contract.
 */
export {
  API_VERSION,
  KINDS,
  cloneResource,
  decodeResource,
  encodeResource,
  findKind,
  idOf,
  kindByExactName,
  kindOf,
  metaOf,
  mustFindKind,
  objectOf,
  resourceId,
  wrap,
} from './kinds.js';
export type { KindInfo, KindName, KindObject, ResourceCase } from './kinds.js';
export {
  ManifestError,
  OperationNotSupportedError,
  ResourceAlreadyExistsError,
  ResourceNotFoundError,
  UnknownKindError,
  UpdateConflictError,
  ValidationError,
  formatFieldError,
  isManifestError,
  isOperationNotSupportedError,
  isResourceAlreadyExistsError,
  isResourceNotFoundError,
  isUnknownKindError,
  isUpdateConflictError,
  isValidationError,
  validationMessage,
} from './errors.js';
export type { FieldError, ManifestLocation } from './errors.js';
export { parseManifest } from './decode.js';
export type { ManifestResource, ManifestResult, ParseManifestOptions, TextPosition } from './decode.js';
export { toJSON, toListObject, toManifestObject, toYAML } from './encode.js';
export type { ManifestObject, ToManifestOptions } from './encode.js';
export { prepareResource } from './validate/index.js';
export type { PrepareContext, Prepared } from './validate/index.js';
export {
  ALLOWED_USES,
  DEFAULT_BLOCK_SIZE_V4,
  DEFAULT_BLOCK_SIZE_V6,
  DEFAULT_MAX_BLOCKS_PER_HOST,
  ENCAP_MODES,
  FILTER_ACTIONS,
  FILTER_MATCH_OPERATORS,
  FILTER_SOURCES,
  IPAM_CONFIGURATION_NAME,
  LABEL_NAMESPACE,
  LABEL_ORCHESTRATOR,
  LOG_SEVERITIES,
  PEER_TYPES,
  isCommunityValue,
} from './validate/index.js';
export { crossResourceKinds, crossResourceProblems } from './cross.js';
export type { StoredLookup } from './cross.js';
export {
  FIELD_SUPPORT,
  FIELD_SUPPORT_KINDS,
  NOT_SUPPORTED,
  fieldSupportMarkdown,
  metadataSupportMarkdown,
  refusedFieldProblems,
  schemaFieldPaths,
} from './field-support.js';
export type { FieldSupport, FieldSupportKind, WalkedField } from './field-support.js';
export { IPAM_ALLOCATIONS_FINALIZER, finalizerRefusal } from './finalizers.js';
export { MAX_AS_NUMBER, parseASNumber } from './asnumber.js';
export {
  isDNSSubdomain,
  labelValueProblems,
  nameProblems,
  parseDuration,
  qualifiedNameProblems,
  workloadEndpointName,
  workloadInterfaceName,
  containerInterfaceName,
} from './names.js';
export type { WorkloadEndpointIdentifiers } from './names.js';
export {
  cidrContains,
  cidrLast,
  cidrSize,
  cidrsOverlap,
  formatIP,
  parseCIDR,
  parseIP,
  parseIPOrCIDR,
  parsePeerAddress,
} from './net.js';
export type { IPFamily, ParsedCIDR, ParsedIP, PeerAddress } from './net.js';
export { ObjectMetaSchema, allSchemas } from './schema.js';
export type { FieldSchema, FieldType, MessageSchema } from './schema.js';
