/**
 * The Tabby contract as TypeScript: messages and grpc-js service definitions generated
 * from proto/tabby/v1 by ts-proto (src/gen, made at build time), and the binary
 * descriptor set that servers hand to gRPC reflection.
 */
export { ObjectMeta, SecretKeySelector, SecretSource } from './gen/tabby/v1/meta.js';
export {
  BGPConfiguration,
  BGPConfigurationSpec,
  BGPPeer,
  BGPPeerSpec,
  Community,
  PrefixAdvertisement,
  ServiceCIDR,
} from './gen/tabby/v1/bgp.js';
export {
  Node,
  NodeAddress,
  NodeBGPSpec,
  NodeInterface,
  NodeRuntimeStatus,
  NodeSpec,
  NodeWireguardSpec,
  OrchRef,
} from './gen/tabby/v1/node.js';
export { IPPool, IPPoolSpec } from './gen/tabby/v1/ippool.js';
export { IPNAT, WorkloadEndpoint, WorkloadEndpointPort, WorkloadEndpointSpec } from './gen/tabby/v1/workload.js';
export {
  AgentStatus,
  BGPDaemonStatus,
  BGPPeerStatus,
  NodeStatus,
  NodeStatusReport,
  NodeStatusSpec,
} from './gen/tabby/v1/nodestatus.js';
export { Resource } from './gen/tabby/v1/resource.js';
export { EventType, ResourceEvent, eventTypeFromJSON, eventTypeToJSON } from './gen/tabby/v1/events.js';
export {
  ApplyRequest,
  ApplyResponse,
  CreateRequest,
  CreateResponse,
  DeleteRequest,
  DeleteResponse,
  GetRequest,
  GetResponse,
  InfoRequest,
  InfoResponse,
  ListRequest,
  ListResponse,
  ResourceStoreClient,
  ResourceStoreService,
  UpdateRequest,
  UpdateResponse,
  WatchRequest,
  WatchResponse,
} from './gen/tabby/v1/store.js';
export type { ResourceStoreServer } from './gen/tabby/v1/store.js';
export {
  AssignIPRequest,
  AssignIPResponse,
  AutoAssignRequest,
  AutoAssignResponse,
  Block,
  BlockEvent,
  BlockEventType,
  CheckProblem,
  CheckRequest,
  CheckResponse,
  GetAllocationRequest,
  GetAllocationResponse,
  IpamClient,
  IpamService,
  ListBlocksRequest,
  ListBlocksResponse,
  PoolUsageRequest,
  PoolUsageResponse,
  PoolUtilization,
  ReleaseByHandleRequest,
  ReleaseByHandleResponse,
  ReleaseIPsRequest,
  ReleaseIPsResponse,
  UtilizationRequest,
  UtilizationResponse,
  WorkloadAddRequest,
  WorkloadAddResponse,
  WorkloadDeleteRequest,
  WorkloadDeleteResponse,
  blockEventTypeFromJSON,
  blockEventTypeToJSON,
} from './gen/tabby/v1/ipam.js';
export type { IpamServer } from './gen/tabby/v1/ipam.js';
export { descriptorSetPath, loadDescriptorSet } from './descriptor.js';
