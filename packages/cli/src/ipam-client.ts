import { dialIpam } from '@tabby/client';
import type { IpamClient as GrpcIpamClient, CheckResponse, LeakedAllocation, ListAllocationsResponse, ReleaseLeakedResponse, GetAllocationResponse, ListBlocksResponse, PoolUsageResponse, ReleaseIPsResponse, UtilizationResponse, WorkloadAddRequest, WorkloadAddResponse, WorkloadDeleteResponse } from '@tabby/proto';
import type { callUnary } from '@tabby/runtime';
import type { ClientConfig } from './config.js';
import { ServiceCallError, callService, cliDial, type ServiceTarget } from './service-call.js';

const TIMEOUT_MS = 15_000;
/** A check reads every allocation and endpoint: give it longer. */
const CHECK_TIMEOUT_MS = 120_000;

export const IPAM_TARGET: ServiceTarget = { what: 'ipam', bin: 'tabby-ipam', flag: '--ipam', env: 'TABBY_IPAM_ADDR' };

/** A failed ipam call: the service's message and its gRPC code. */
export class IpamCallError extends ServiceCallError {
  override readonly name = 'IpamCallError';
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
  listAllocations(node?: string, handlePrefix?: string): Promise<ListAllocationsResponse>;
  releaseLeaked(leaks: readonly LeakedAllocation[], force: boolean): Promise<ReleaseLeakedResponse>;
}

/** tabby-ipam as tabbyctl uses it: promises, the service's messages, one line when unreachable. */
export class IpamClient implements IpamApi {
  private readonly client: GrpcIpamClient;

  constructor(private readonly config: ClientConfig) {
    this.client = cliDial(dialIpam, config.ipam, config.tls, 'ipam address');
  }

  private call<Req, Res>(method: Parameters<typeof callUnary<Req, Res>>[0], req: Req, timeoutMs = TIMEOUT_MS): Promise<Res> {
    return callService(method, req, { address: this.config.ipam, target: IPAM_TARGET, timeoutMs }, (message, code) => new IpamCallError(message, code));
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
  listAllocations(node = '', handlePrefix = ''): Promise<ListAllocationsResponse> {
    return this.call(this.client.listAllocations.bind(this.client), { node, handlePrefix }, CHECK_TIMEOUT_MS);
  }
  releaseLeaked(leaks: readonly LeakedAllocation[], force: boolean): Promise<ReleaseLeakedResponse> {
    return this.call(this.client.releaseLeaked.bind(this.client), { leaks: [...leaks], force }, CHECK_TIMEOUT_MS);
  }
  close(): void {
    this.client.close();
  }
}
