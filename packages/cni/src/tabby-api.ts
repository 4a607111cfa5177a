import { Metadata, status, type ChannelCredentials, type ServiceError as GrpcError } from '@grpc/grpc-js';
import type { GetAllocationResponse, IpamAllocation, WorkloadAddRequest, WorkloadAddResponse, WorkloadDeleteRequest, WorkloadDeleteResponse, WorkloadEndpoint } from '@tabby/proto';
import { IpamClient, ResourceStoreClient } from '@tabby/proto';
import { callUnary, channelCredentials, classifyDialFailure, isGrpcError } from '@tabby/runtime';
import { CniCode, CniError, type CniCodeValue } from './cni-error.js';
import type { NetworkConfig } from './config.js';

/**
 * What tabby-cni asks of the control plane: tabby-ipam's WorkloadAdd/WorkloadDelete (the
 * CNI ADD/DEL path: addresses and the WorkloadEndpoint, all or nothing); for CHECK, the
 * allocation of an address and the endpoint as tabby-store holds it; for GC, this node's
 * allocations of the network; for STATUS, whether the node exists. Failures are
 * {@link CniError}s with the CNI code a runtime acts on.
 */
export interface TabbyApi {
  workloadAdd(req: WorkloadAddRequest): Promise<WorkloadAddResponse>;
  workloadDelete(req: WorkloadDeleteRequest): Promise<WorkloadDeleteResponse>;
  /** Releases every address of a handle (no endpoint involved); the addresses released. */
  releaseByHandle(handle: string): Promise<string[]>;
  getAllocation(address: string): Promise<GetAllocationResponse>;
  /** The allocations to `node` whose handle starts with `handlePrefix` (tabby-ipam ListAllocations). */
  listAllocations(node: string, handlePrefix: string): Promise<IpamAllocation[]>;
  /** The endpoint, or undefined when the store has none of that name. */
  getEndpoint(namespace: string, name: string): Promise<WorkloadEndpoint | undefined>;
  /** True when tabby-store has a Node of that name. */
  nodeExists(name: string): Promise<boolean>;
  close(): void;
}

/** Which server a failure came from, for messages. */
interface Peer {
  readonly service: 'tabby-ipam' | 'tabby-store';
  readonly address: string;
}

const TLS_FAILURES = new Set(['client-certificate-required', 'unknown-ca', 'not-tls', 'name-mismatch']);

/** A failed call to tabby-ipam or tabby-store, as the CNI error to report. */
export class ApiCallError extends CniError {
  override readonly name = 'ApiCallError';
  constructor(
    cniCode: CniCodeValue,
    message: string,
    /** True when the call may have been carried out anyway (no answer, or one tabby-cni cannot trust). */
    readonly outcomeUnknown: boolean,
    details = '',
  ) {
    super(cniCode, message, details);
  }
}

/** True when `err` is a call whose outcome is unknown: what it would have made may exist. */
export function outcomeUnknown(err: unknown): boolean {
  return err instanceof ApiCallError && err.outcomeUnknown;
}

/**
 * Maps a gRPC failure to a CNI error: unreachable or busy → 11 (try again later; a TLS
 * mismatch is a config error, 7), exhausted → 101, unusable pool → 102, unknown node → 103,
 * refused → 104, anything else → 100. The message says which service, where, and what it said.
 */
export function grpcToCniError(err: unknown, peer: Peer, what: string): ApiCallError {
  if (!isGrpcError(err)) {
    const msg = err instanceof Error ? err.message : String(err);
    return new ApiCallError(CniCode.Internal, `${what}: ${msg}`, true);
  }
  const g = err;
  const said = g.details || g.message;
  const at = `${peer.service} at ${peer.address}`;
  const reason = g.metadata instanceof Metadata ? String(g.metadata.get('tabby-reason')[0] ?? '') : '';
  switch (g.code) {
    case status.UNAVAILABLE: {
      const kind = classifyDialFailure(said);
      if (kind !== undefined && TLS_FAILURES.has(kind)) {
        return new ApiCallError(CniCode.InvalidNetworkConfig, `${what}: cannot talk TLS to ${at}: ${said}`, false, 'check tabby.tls (ca, cert, key) in the network config against the TLS flags of the services');
      }
      // Unreachable, or reachable but tabby-ipam cannot reach the store: transient either way.
      return new ApiCallError(CniCode.TryAgainLater, `${what}: ${at} is unavailable: ${said}`, false, 'try again later; check that the Tabby control plane is running and reachable from this node');
    }
    case status.DEADLINE_EXCEEDED:
      return new ApiCallError(CniCode.TryAgainLater, `${what}: ${at} did not answer in time`, true, 'try again later (tabby.timeout_seconds sets the wait)');
    case status.RESOURCE_EXHAUSTED:
      return new ApiCallError(CniCode.AddressesExhausted, `${what}: ${said}`, false);
    case status.FAILED_PRECONDITION:
      if (reason === 'conflict') return new ApiCallError(CniCode.TryAgainLater, `${what}: ${said}`, false);
      return new ApiCallError(CniCode.PoolUnusable, `${what}: ${said}`, false);
    case status.NOT_FOUND:
      return new ApiCallError(CniCode.UnknownNode, `${what}: ${said}`, false);
    case status.INVALID_ARGUMENT:
    case status.ALREADY_EXISTS:
    case status.PERMISSION_DENIED:
    case status.UNAUTHENTICATED:
      return new ApiCallError(CniCode.Refused, `${what}: ${at} refused: ${said}`, false);
    default:
      return new ApiCallError(CniCode.Internal, `${what}: ${at} failed: ${status[g.code] ?? g.code} ${said}`, true);
  }
}

/** {@link TabbyApi} over gRPC (grpc-js), one lazily opened channel per service. */
export class GrpcTabbyApi implements TabbyApi {
  private ipamClient: IpamClient | undefined;
  private storeClient: ResourceStoreClient | undefined;
  private creds: ChannelCredentials | undefined;

  constructor(private readonly config: NetworkConfig['tabby']) {}

  private credentials(): ChannelCredentials {
    if (!this.creds) {
      try {
        this.creds = channelCredentials(this.config.tls);
      } catch (err) {
        throw new CniError(CniCode.InvalidNetworkConfig, `tabby.tls: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return this.creds;
  }

  private ipam(): IpamClient {
    this.ipamClient ??= new IpamClient(this.config.ipam, this.credentials(), { 'grpc.enable_retries': 0 });
    return this.ipamClient;
  }

  private store(): ResourceStoreClient {
    this.storeClient ??= new ResourceStoreClient(this.config.store, this.credentials(), { 'grpc.enable_retries': 0 });
    return this.storeClient;
  }

  private async call<Req, Res>(peer: Peer, what: string, fn: (req: Req, md: Metadata, opts: object, cb: (err: GrpcError | null, res: Res) => void) => unknown, req: Req): Promise<Res> {
    try {
      return await callUnary(fn as Parameters<typeof callUnary<Req, Res>>[0], req, { timeoutMs: this.config.timeoutMs });
    } catch (err) {
      throw grpcToCniError(err, peer, what);
    }
  }

  workloadAdd(req: WorkloadAddRequest): Promise<WorkloadAddResponse> {
    const c = this.ipam();
    return this.call({ service: 'tabby-ipam', address: this.config.ipam }, 'cannot assign addresses', c.workloadAdd.bind(c), req);
  }

  workloadDelete(req: WorkloadDeleteRequest): Promise<WorkloadDeleteResponse> {
    const c = this.ipam();
    return this.call({ service: 'tabby-ipam', address: this.config.ipam }, 'cannot release the workload', c.workloadDelete.bind(c), req);
  }

  async releaseByHandle(handle: string): Promise<string[]> {
    const c = this.ipam();
    return (await this.call({ service: 'tabby-ipam', address: this.config.ipam }, `cannot release handle ${handle}`, c.releaseByHandle.bind(c), { handle })).released;
  }

  async listAllocations(node: string, handlePrefix: string): Promise<IpamAllocation[]> {
    const c = this.ipam();
    return (await this.call({ service: 'tabby-ipam', address: this.config.ipam }, `cannot list the allocations of node ${node}`, c.listAllocations.bind(c), { node, handlePrefix })).allocations;
  }

  getAllocation(address: string): Promise<GetAllocationResponse> {
    const c = this.ipam();
    return this.call({ service: 'tabby-ipam', address: this.config.ipam }, `cannot look up ${address}`, c.getAllocation.bind(c), { address });
  }

  async getEndpoint(namespace: string, name: string): Promise<WorkloadEndpoint | undefined> {
    const c = this.store();
    try {
      const r = await callUnary(c.get.bind(c), { kind: 'WorkloadEndpoint', namespace, name }, { timeoutMs: this.config.timeoutMs });
      return r.resource?.kind?.$case === 'workloadEndpoint' ? r.resource.kind.value : undefined;
    } catch (err) {
      if (isGrpcError(err) && err.code === status.NOT_FOUND) return undefined;
      throw grpcToCniError(err, { service: 'tabby-store', address: this.config.store }, `cannot read WorkloadEndpoint ${namespace}/${name}`);
    }
  }

  async nodeExists(name: string): Promise<boolean> {
    const c = this.store();
    try {
      const r = await callUnary(c.get.bind(c), { kind: 'Node', namespace: '', name }, { timeoutMs: this.config.timeoutMs });
      return r.resource?.kind?.$case === 'node';
    } catch (err) {
      if (isGrpcError(err) && err.code === status.NOT_FOUND) return false;
      throw grpcToCniError(err, { service: 'tabby-store', address: this.config.store }, `cannot read Node ${name}`);
    }
  }

  close(): void {
    this.ipamClient?.close();
    this.storeClient?.close();
  }
}
