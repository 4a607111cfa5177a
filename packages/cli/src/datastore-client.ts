import { Metadata, type ServiceError as GrpcServiceError } from '@grpc/grpc-js';
import { DatastoreClient as GrpcDatastoreClient, type DatastoreRecord, type DatastoreStatusResponse } from '@tabby/proto';
import { REPLICA_CHANNEL_OPTIONS, grpcTarget, isConfigError, type callUnary } from '@tabby/runtime';
import { CliError } from './errors.js';
import { CLI_CHANNEL_OPTIONS, ServiceCallError, callService, cliCredentials, connectionFailure, type ServiceTarget } from './service-call.js';

const TIMEOUT_MS = 15_000;
/** Export and import move everything: give them longer. */
const BULK_TIMEOUT_MS = 300_000;

/** A failed Datastore call: the service's message and its gRPC code. */
export class DatastoreCallError extends ServiceCallError {
  override readonly name = 'DatastoreCallError';
}

/** The Datastore service of tabby-store or tabby-ipam, as tabbyctl uses it (tests give fakes). */
export interface DatastoreApi {
  /** `store` or `ipam`, for messages. */
  readonly what: string;
  readonly address: string;
  status(): Promise<DatastoreStatusResponse>;
  exportRecords(): Promise<DatastoreRecord[]>;
  importRecords(records: readonly DatastoreRecord[], validateOnly?: boolean): Promise<{ imported: number; revision: number }>;
  setLock(locked: boolean): Promise<{ wasLocked: boolean }>;
  close(): void;
}

/** One service's Datastore over gRPC. */
export class DatastoreClient implements DatastoreApi {
  private readonly client: GrpcDatastoreClient;
  readonly what: string;

  constructor(
    readonly address: string,
    private readonly target: ServiceTarget,
    tls: { readonly ca?: string; readonly cert?: string; readonly key?: string },
  ) {
    this.what = target.what;
    // One address, or the replicas as IP:PORT,IP:PORT (any replica answers for the datastore).
    let dialed: string;
    try {
      dialed = grpcTarget(address, `${target.what} address`);
    } catch (err) {
      if (isConfigError(err)) throw new CliError(err.message);
      throw err;
    }
    const balanced = dialed !== address.trim();
    this.client = new GrpcDatastoreClient(dialed, cliCredentials(tls), { ...CLI_CHANNEL_OPTIONS, ...(balanced ? REPLICA_CHANNEL_OPTIONS : {}) });
  }

  private call<Req, Res>(method: Parameters<typeof callUnary<Req, Res>>[0], req: Req, timeoutMs = TIMEOUT_MS): Promise<Res> {
    return callService(method, req, { address: this.address, target: this.target, timeoutMs }, (message, code) => new DatastoreCallError(message, code));
  }

  status(): Promise<DatastoreStatusResponse> {
    return this.call(this.client.status.bind(this.client), {});
  }

  setLock(locked: boolean): Promise<{ wasLocked: boolean }> {
    return this.call(this.client.setLock.bind(this.client), { locked });
  }

  importRecords(records: readonly DatastoreRecord[], validateOnly = false): Promise<{ imported: number; revision: number }> {
    return this.call(this.client.import.bind(this.client), { records: [...records], validateOnly }, BULK_TIMEOUT_MS);
  }

  exportRecords(): Promise<DatastoreRecord[]> {
    return new Promise((resolve, reject) => {
      const out: DatastoreRecord[] = [];
      const stream = this.client.export({}, new Metadata(), { deadline: Date.now() + BULK_TIMEOUT_MS });
      stream.on('data', (msg: { record?: DatastoreRecord }) => {
        if (msg.record) out.push(msg.record);
      });
      stream.on('end', () => resolve(out));
      stream.on('error', (err: GrpcServiceError) => {
        reject(connectionFailure({ code: err.code, details: err.details, metadata: err.metadata }, this.address, this.target, BULK_TIMEOUT_MS) ?? new DatastoreCallError(err.details, err.code));
      });
    });
  }

  close(): void {
    this.client.close();
  }
}

export function isDatastoreCallError(err: unknown): err is DatastoreCallError {
  return err instanceof DatastoreCallError;
}

/** A call error as one CLI line naming the service. */
export function datastoreFailure(api: { readonly what: string; readonly address: string }, err: unknown): unknown {
  if (isDatastoreCallError(err)) return new CliError(`the Tabby ${api.what} at ${api.address}: ${err.message}`);
  return err;
}
