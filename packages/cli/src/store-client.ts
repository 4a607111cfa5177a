import { dialStore } from '@tabby/client';
import type { ApplyBatchResult, ReadFreshness, ResourceStoreClient, Resource } from '@tabby/proto';
import type { callUnary } from '@tabby/runtime';
import type { ClientConfig } from './config.js';
import { ServiceCallError, callService, cliDial, type ServiceTarget } from './service-call.js';

const TIMEOUT_MS = 15_000;

/** A failed store call: the store's message (Calico's text) and its gRPC code. */
export class StoreCallError extends ServiceCallError {
  override readonly name = 'StoreCallError';
}

export function isStoreCallError(err: unknown): err is StoreCallError {
  return err instanceof StoreCallError;
}

export const STORE_TARGET: ServiceTarget = { what: 'store', bin: 'tabby-store', flag: '--store', env: 'TABBY_STORE_ADDR' };


/** The ResourceStore as tabbyctl uses it: promises, Calico messages, one line when unreachable. */
export class StoreClient {
  private readonly client: ResourceStoreClient;

  constructor(private readonly config: ClientConfig) {
    this.client = cliDial(dialStore, config.store, config.tls, 'store address');
  }

  private call<Req, Res>(method: Parameters<typeof callUnary<Req, Res>>[0], req: Req): Promise<Res> {
    return callService(method, req, { address: this.config.store, target: STORE_TARGET, timeoutMs: TIMEOUT_MS }, (message, code) => new StoreCallError(message, code));
  }

  create(resource: Resource): Promise<Resource> {
    return this.call(this.client.create.bind(this.client), { resource }).then((r) => r.resource as Resource);
  }
  /** Create/delete under the migration lock (ipam split): refused when the datastore is not locked. */
  createWhileLocked(resource: Resource): Promise<Resource> {
    return this.call(this.client.create.bind(this.client), { resource, whileLocked: true }).then((r) => r.resource as Resource);
  }
  deleteWhileLocked(kind: string, name: string, force: boolean): Promise<Resource> {
    return this.call(this.client.delete.bind(this.client), { kind, namespace: '', name, resourceVersion: '', force, whileLocked: true }).then((r) => r.resource as Resource);
  }
  update(resource: Resource): Promise<Resource> {
    return this.call(this.client.update.bind(this.client), { resource }).then((r) => r.resource as Resource);
  }
  apply(resource: Resource): Promise<{ resource: Resource; created: boolean }> {
    return this.call(this.client.apply.bind(this.client), { resource }).then((r) => ({ resource: r.resource as Resource, created: r.created }));
  }
  /** Applies each resource in order, each on its own; one result per resource (error '' when applied). */
  applyBatch(resources: Resource[]): Promise<ApplyBatchResult[]> {
    return this.call(this.client.applyBatch.bind(this.client), { resources }).then((r) => r.results);
  }
  delete(kind: string, namespace: string, name: string, resourceVersion = '', force = false): Promise<Resource> {
    return this.deleteReporting(kind, namespace, name, resourceVersion, force).then((r) => r.resource);
  }
  /** {@link delete}, also saying which finalizers a forced delete overrode. */
  deleteReporting(kind: string, namespace: string, name: string, resourceVersion = '', force = false): Promise<{ resource: Resource; overriddenFinalizers: string[] }> {
    return this.call(this.client.delete.bind(this.client), { kind, namespace, name, resourceVersion, force }).then((r) => ({
      resource: r.resource as Resource,
      overriddenFinalizers: r.overriddenFinalizers,
    }));
  }
  get(kind: string, namespace: string, name: string): Promise<Resource> {
    return this.getRead(kind, namespace, name).then((r) => r.resource);
  }
  /** {@link get}, also saying whether the store answered from a stale copy (etcd unreachable). */
  getRead(kind: string, namespace: string, name: string): Promise<{ resource: Resource; freshness?: ReadFreshness }> {
    return this.call(this.client.get.bind(this.client), { kind, namespace, name }).then((r) => ({ resource: r.resource as Resource, freshness: r.freshness }));
  }
  /** Objects of a kind; `freshness` stale when the store answered from its last copy (etcd unreachable). */
  list(kind: string, namespace: string, labelSelector: string): Promise<{ items: Resource[]; revision: number; freshness?: ReadFreshness }> {
    return this.call(this.client.list.bind(this.client), { kind, namespace, labelSelector });
  }
  info(): Promise<{ version: string; clusterType: string; clusterGuid: string; revision: number }> {
    return this.call(this.client.info.bind(this.client), {});
  }
  close(): void {
    this.client.close();
  }
}
