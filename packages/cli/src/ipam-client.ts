import type { ChannelCredentials, status } from '@grpc/grpc-js';
import {
  IpamClient as GrpcIpamClient,
  type CheckResponse,
  type GetAllocationResponse,
  type ListBlocksResponse,
  type PoolUsageResponse,
  type ReleaseIPsResponse,
  type UtilizationResponse,
  type WorkloadAddRequest,
  type WorkloadAddResponse,
  type WorkloadDeleteResponse,
} from '@tabby/proto';
import { CLIENT_CHANNEL_OPTIONS, callUnary, channelCredentials, isConfigError, isGrpcError } from '@tabby/runtime';
import type { ClientConfig } from './config.js';
import { CliError } from './errors.js';
import { connectionFailure, type ServiceTarget } from './store-client.js';

const TIMEOUT_MS = 15_000;
/** A check reads every allocation and endpoint: give it longer. */
const CHECK_TIMEOUT_MS = 120_000;

export const IPAM_TARGET: ServiceTarget = { what: 'ipam', bin: 'tabby-ipam', flag: '--ipam', env: 'TABBY_IPAM_ADDR' };

/** A failed ipam call: the service's message and its gRPC code. */
export class IpamCallError extends Error {
  override readonly name = 'IpamCallError';
  constructor(
    message: string,
    readonly code: status,
  ) {
    super(message);
  }
}

export function isIpamCallError(err: unknown): err is IpamCallError {
  return err instanceof IpamCallError;
}

/** The calls of tabby-ipam that tabbyctl makes (what commands depend on; tests give fakes). */
export interface IpamApi {
  releaseIPs(addresses: readonly string[]): Promise<ReleaseIPsResponse>;
  getAllocation(address: string): Promise<GetAllocationResponse>;
  listBlocks(node?: string): Promise<ListBlocksResponse>;
  utilization(includeBlocks: boolean): Promise<UtilizationResponse>;
  check(repair: boolean): Promise<CheckResponse>;
  workloadAdd(req: WorkloadAddRequest): Promise<WorkloadAddResponse>;
  workloadDelete(namespace: string, name: string): Promise<WorkloadDeleteResponse>;
  poolUsage(name: string, cidr?: string): Promise<PoolUsageResponse>;
}

/** tabby-ipam as tabbyctl uses it: promises, the service's messages, one line when unreachable. */
export class IpamClient implements IpamApi {
  private readonly client: GrpcIpamClient;

  constructor(private readonly config: ClientConfig) {
    let creds: ChannelCredentials;
    try {
      creds = channelCredentials(config.tls);
    } catch (err) {
      if (isConfigError(err)) throw new CliError(err.message);
      throw err;
    }
    this.client = new GrpcIpamClient(config.ipam, creds, { ...CLIENT_CHANNEL_OPTIONS, 'grpc.max_reconnect_backoff_ms': 1000 });
  }

  private async call<Req, Res>(method: Parameters<typeof callUnary<Req, Res>>[0], req: Req, timeoutMs = TIMEOUT_MS): Promise<Res> {
    try {
      return await callUnary(method, req, { timeoutMs });
    } catch (err) {
      if (!isGrpcError(err)) throw err;
      throw connectionFailure(err, this.config.ipam, IPAM_TARGET, timeoutMs) ?? new IpamCallError(err.details, err.code);
    }
  }

  releaseIPs(addresses: readonly string[]): Promise<ReleaseIPsResponse> {
    return this.call(this.client.releaseIPs.bind(this.client), { addresses: [...addresses], handle: '' });
  }
  getAllocation(address: string): Promise<GetAllocationResponse> {
    return this.call(this.client.getAllocation.bind(this.client), { address });
  }
  listBlocks(node = ''): Promise<ListBlocksResponse> {
    return this.call(this.client.listBlocks.bind(this.client), { node });
  }
  utilization(includeBlocks: boolean): Promise<UtilizationResponse> {
    return this.call(this.client.utilization.bind(this.client), { includeBlocks });
  }
  check(repair: boolean): Promise<CheckResponse> {
    return this.call(this.client.check.bind(this.client), { repair }, CHECK_TIMEOUT_MS);
  }
  workloadAdd(req: WorkloadAddRequest): Promise<WorkloadAddResponse> {
    return this.call(this.client.workloadAdd.bind(this.client), req);
  }
  workloadDelete(namespace: string, name: string): Promise<WorkloadDeleteResponse> {
    return this.call(this.client.workloadDelete.bind(this.client), { namespace, name });
  }
  poolUsage(name: string, cidr = ''): Promise<PoolUsageResponse> {
    return this.call(this.client.poolUsage.bind(this.client), { name, cidr });
  }
  close(): void {
    this.client.close();
  }
}
