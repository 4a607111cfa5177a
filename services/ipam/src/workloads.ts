import { hostname } from 'node:os';
import { status } from '@grpc/grpc-js';
import { containerInterfaceName, metaOf, nameProblems, parseIP, workloadEndpointName, workloadInterfaceName, wrap } from '@tabby/api';
import { ObjectMeta, type ResourceStoreClient, type Resource, type WorkloadEndpoint } from '@tabby/proto';
import { ServiceError, callUnary, isGrpcError, type Logger } from '@tabby/runtime';
import type { IntentRecord, IpamStorage } from './storage.js';

/** The IPAM handle of a workload: one per workload, so release by handle is exact. */
export function workloadHandle(namespace: string, name: string): string {
  return `workload:${namespace}/${name}`;
}

/** Orchestrators of workload endpoints IPAM writes: Kubernetes pods, or bare CNI containers. */
export type WorkloadOrchestrator = 'k8s' | 'cni';

/** An IPAM handle: printable, no spaces, at most 512 characters (Calico's CNI: `<network>.<containerID>`). */
const HANDLE = /^[A-Za-z0-9][A-Za-z0-9_.:/@+=-]{0,511}$/;
/** A container ID as a WorkloadEndpoint accepts it. */
const CONTAINER_ID = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const MAC = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;

export interface WorkloadAddInput {
  readonly namespace: string;
  /** The pod (k8s) or the workload (cni: the container ID). */
  readonly name: string;
  readonly node: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly numIpv4: number;
  readonly numIpv6: number;
  readonly ipv4Pools: readonly string[];
  readonly ipv6Pools: readonly string[];
  /** IPAM handle; default {@link workloadHandle}. */
  readonly handle?: string | undefined;
  /** spec.containerID (CNI_CONTAINERID). */
  readonly containerId?: string | undefined;
  /** spec.endpoint (CNI_IFNAME); default eth0. */
  readonly endpoint?: string | undefined;
  /** Default k8s. */
  readonly orchestrator?: string | undefined;
  /** spec.mac: the container-side interface's MAC. */
  readonly mac?: string | undefined;
  /** Fixed addresses (Calico's ipAddrs): assigned with AssignIP instead of AutoAssign. */
  readonly ipAddrs?: readonly string[] | undefined;
  /** Labels of the namespace, for the pools' namespaceSelector. */
  readonly namespaceLabels?: Readonly<Record<string, string>> | undefined;
}

export interface WorkloadDeleteInput {
  readonly namespace: string;
  readonly name: string;
  /** Handle to release; default {@link workloadHandle}. */
  readonly handle?: string | undefined;
  /** Only endpoints with this spec.containerID are deleted. */
  readonly containerId?: string | undefined;
  /** Only endpoints with this spec.endpoint are deleted. */
  readonly endpoint?: string | undefined;
}

/** Which endpoints of a workload a delete (or its recovery) may remove. */
interface EndpointFilter {
  readonly containerId: string;
  readonly endpoint: string;
}

function checkHandle(handle: string): void {
  if (!HANDLE.test(handle)) throw new ServiceError('invalid-argument', `handle "${handle}" must be 1-512 printable characters without spaces, starting with a letter or digit`);
}

export interface WorkloadAddResult {
  readonly endpointName: string;
  readonly interfaceName: string;
  readonly ipNetworks: string[];
  readonly existing: boolean;
}


const STORE_TIMEOUT_MS = 10_000;

/** Test-only fault injection: TABBY_IPAM_FAILPOINT=after-assign kills the process between the two writes of WorkloadAdd. */
function failpoint(name: string): void {
  if (process.env.TABBY_IPAM_FAILPOINT === name) process.kill(process.pid, 'SIGKILL');
}

/**
 * The CNI ADD/DEL path. A workload change writes two databases (IPAM's and the store), so
 * it is journalled: an intent row is committed with the address assignment, the endpoint
 * is written to the store, then the intent is removed. If the process dies in between,
 * {@link recover} (at start and periodically, by any ipam process sharing the database)
 * finishes or undoes it: an ADD whose endpoint never reached the store gives its
 * addresses back; a DELETE is completed. No orphan address, no orphan endpoint.
 */
export class Workloads {
  readonly instanceId = `${hostname()}:${process.pid}:${Date.now()}`;

  constructor(
    private readonly storage: IpamStorage,
    private readonly store: ResourceStoreClient,
    private readonly logger: Logger,
  ) {}

  /** Registers this process as a live owner of intents. */
  async start(): Promise<void> {
    await this.storage.register(this.instanceId);
  }

  private endpointFor(input: WorkloadAddInput, ipNetworks: string[]): { resource: Resource; name: string; interfaceName: string } {
    const orchestrator = orchestratorOf(input.orchestrator);
    const endpoint = input.endpoint || 'eth0';
    const containerID = input.containerId ?? '';
    // Calico's CNI plugin: a pod is named by its pod name; a bare container by its ID.
    const cni = orchestrator === 'cni';
    const cniContainer = containerID || input.name;
    const named = workloadEndpointName({ node: input.node, orchestrator, pod: cni ? '' : input.name, endpoint, workload: cni ? input.name : '', containerID: cni ? cniContainer : containerID });
    if ('problems' in named) throw new ServiceError('invalid-argument', named.problems.map((p) => `${p.field}: ${p.reason}`).join('; '));
    const interfaceName = cni ? containerInterfaceName(cniContainer) : workloadInterfaceName(input.namespace, input.name);
    const wep: WorkloadEndpoint = {
      metadata: ObjectMeta.fromPartial({
        name: named.name,
        namespace: input.namespace,
        labels: { ...input.labels, 'projectcalico.org/namespace': input.namespace, 'projectcalico.org/orchestrator': orchestrator },
      }),
      spec: {
        orchestrator,
        workload: cni ? input.name : '',
        node: input.node,
        containerID: cni ? cniContainer : containerID,
        pod: cni ? '' : input.name,
        endpoint,
        serviceAccountName: '',
        ipNetworks,
        ipNATs: [],
        ipv4Gateway: '',
        ipv6Gateway: '',
        profiles: [`kns.${input.namespace}`],
        interfaceName,
        mac: input.mac ?? '',
        ports: [],
        allowSpoofedSourcePrefixes: [],
      },
    };
    return { resource: wrap('WorkloadEndpoint', wep), name: named.name, interfaceName };
  }

  async add(input: WorkloadAddInput): Promise<WorkloadAddResult> {
    for (const [field, value] of [
      ['namespace', input.namespace],
      ['name', input.name],
      ['node', input.node],
    ] as const) {
      if (!value) throw new ServiceError('invalid-argument', `${field} must be given`);
      const problems = nameProblems(value);
      if (problems.length > 0) throw new ServiceError('invalid-argument', `${field} "${value}": ${problems.join('; ')}`);
    }
    orchestratorOf(input.orchestrator);
    if (input.containerId && !CONTAINER_ID.test(input.containerId)) throw new ServiceError('invalid-argument', `container id "${input.containerId}" must be letters, digits and -, starting and ending with a letter or digit`);
    if (input.mac && !MAC.test(input.mac)) throw new ServiceError('invalid-argument', `mac "${input.mac}" is not a MAC address such as 66:1f:4b:6e:51:19`);
    const handle = input.handle || workloadHandle(input.namespace, input.name);
    checkHandle(handle);
    const containerId = input.containerId ?? '';
    const endpoint = input.endpoint ?? '';
    const numIpv4 = input.numIpv4 === 0 && input.numIpv6 === 0 ? 1 : input.numIpv4;
    const intent: IntentRecord = { handle, op: 'add', namespace: input.namespace, name: input.name, node: input.node, owner: this.instanceId, createdAt: Date.now(), containerId, endpoint };
    // containerID and endpoint (CNI_CONTAINERID, CNI_IFNAME) let tabby-cni's GC tell its attachments apart.
    const attributes = { namespace: input.namespace, pod: input.name, ...(containerId ? { containerID: containerId } : {}), ...(endpoint ? { endpoint } : {}) };
    const assigned =
      input.ipAddrs && input.ipAddrs.length > 0
        ? await this.assignFixed(input.ipAddrs, handle, input.node, attributes, intent)
        : await this.storage.autoAssign(
            {
              node: input.node,
              handle,
              numIpv4,
              numIpv6: input.numIpv6,
              ipv4Pools: input.ipv4Pools,
              ipv6Pools: input.ipv6Pools,
              attributes,
              use: 'Workload',
              namespaceLabels: namespaceLabelsOf(input.namespace, input.namespaceLabels),
            },
            intent,
          );
    failpoint('after-assign');
    const ipNetworks = [...assigned.ipv4, ...assigned.ipv6];
    let ep;
    try {
      ep = this.endpointFor(input, ipNetworks);
      await callUnary(this.store.apply.bind(this.store), { resource: ep.resource }, { timeoutMs: STORE_TIMEOUT_MS });
    } catch (err) {
      // Undo: the endpoint is not written (or we cannot know), so give the addresses back
      // unless they were the workload's already.
      if (!assigned.existing) {
        await this.storage
          .releaseByHandle(handle, { owner: this.instanceId })
          .catch((e: unknown) => this.logger.error({ err: e, handle }, 'cannot undo an assignment; recovery will'));
      }
      throw storeFailure(err, `cannot write WorkloadEndpoint for ${input.namespace}/${input.name}`);
    }
    await this.storage.dropIntent(handle, this.instanceId);
    return { endpointName: ep.name, interfaceName: ep.interfaceName, ipNetworks, existing: assigned.existing };
  }

  /**
   * Calico's `ipAddrs`: each address with AssignIP (in an enabled pool, free), at most one per
   * family. Addresses the handle holds already are kept (ADD again); a failure gives back what
   * this call assigned. The intent is recorded first, so a crash half-way is undone by recovery.
   */
  private async assignFixed(ipAddrs: readonly string[], handle: string, node: string, attributes: Record<string, string>, intent: IntentRecord): Promise<{ ipv4: string[]; ipv6: string[]; existing: boolean }> {
    const wanted = fixedAddresses(ipAddrs);
    const held = new Set(this.storage.allocationsOfHandle(handle).map((a) => a.address));
    const pending = this.storage.intents().find((i) => i.handle === handle);
    if (pending && pending.owner !== intent.owner && !this.storage.ownerDead(pending.owner)) {
      throw new ServiceError('conflict', `workload ${intent.namespace}/${intent.name} is being ${pending.op === 'add' ? 'added' : 'deleted'} by another request; retry`);
    }
    await this.storage.putIntent(intent);
    const out = { ipv4: [] as string[], ipv6: [] as string[], existing: wanted.every((w) => held.has(w.address)) };
    const mine: string[] = [];
    try {
      for (const w of wanted) {
        if (!held.has(w.address)) {
          await this.storage.assignIP(w.address, handle, node, attributes);
          mine.push(w.address);
        }
        (w.family === 4 ? out.ipv4 : out.ipv6).push(`${w.address}/${w.family === 4 ? 32 : 128}`);
      }
    } catch (err) {
      if (mine.length > 0) await this.storage.releaseIPs(mine, handle).catch((e: unknown) => this.logger.error({ err: e, handle }, 'cannot undo a fixed-address assignment; recovery will'));
      if (held.size === 0) await this.storage.dropIntent(handle, intent.owner).catch(() => undefined);
      throw err;
    }
    return out;
  }

  /**
   * Deletes the workload's endpoints (only those of `containerId`/`endpoint` when given: the
   * DEL of a pod's old container leaves the endpoint its new container wrote) and releases
   * the handle's addresses. Idempotent: a second call finds nothing and releases nothing.
   */
  async delete(input: WorkloadDeleteInput): Promise<{ released: string[]; found: boolean }> {
    const { namespace, name } = input;
    if (!namespace || !name) throw new ServiceError('invalid-argument', 'namespace and name must be given');
    const handle = input.handle || workloadHandle(namespace, name);
    checkHandle(handle);
    const filter: EndpointFilter = { containerId: input.containerId ?? '', endpoint: input.endpoint ?? '' };
    const held = this.storage.allocationsOfHandle(handle);
    const node = held[0]?.node ?? '';
    await this.storage.putIntent({ handle, op: 'delete', namespace, name, node, owner: this.instanceId, createdAt: Date.now(), containerId: filter.containerId, endpoint: filter.endpoint });
    const found = await this.deleteEndpoints(namespace, name, filter);
    const released = await this.storage.releaseByHandle(handle, { owner: this.instanceId });
    return { released, found: found || released.length > 0 };
  }

  /**
   * Deletes the workload's endpoints from the store: all of them (one per node it ran on), or
   * with a filter only those of that container and interface. A filtered delete carries the
   * listed resourceVersion, so an endpoint another container rewrote meanwhile is left alone.
   */
  private async deleteEndpoints(namespace: string, name: string, filter: EndpointFilter = { containerId: '', endpoint: '' }): Promise<boolean> {
    let list;
    try {
      list = await callUnary(this.store.list.bind(this.store), { kind: 'WorkloadEndpoint', namespace, labelSelector: '' }, { timeoutMs: STORE_TIMEOUT_MS });
    } catch (err) {
      throw storeFailure(err, `cannot read WorkloadEndpoints of ${namespace}/${name}`);
    }
    const filtered = filter.containerId !== '' || filter.endpoint !== '';
    let found = false;
    for (const r of list.items) {
      if (r.kind?.$case !== 'workloadEndpoint' || !endpointOf(r.kind.value, name, filter)) continue;
      found = true;
      try {
        const resourceVersion = filtered ? metaOf(r).resourceVersion : '';
        await callUnary(this.store.delete.bind(this.store), { kind: 'WorkloadEndpoint', namespace, name: metaOf(r).name, resourceVersion, force: false }, { timeoutMs: STORE_TIMEOUT_MS });
      } catch (err) {
        if (isGrpcError(err) && err.code === status.NOT_FOUND) continue;
        // Rewritten since the list (a newer container of the pod): no longer ours to delete.
        if (filtered && isGrpcError(err) && err.code === status.FAILED_PRECONDITION) continue;
        throw storeFailure(err, `cannot delete WorkloadEndpoint ${namespace}/${metaOf(r).name}`);
      }
    }
    return found;
  }

  /** Handles with a workload add or delete under way, or interrupted and awaiting {@link recover}. */
  pendingHandles(): Set<string> {
    return new Set(this.storage.intents().map((r) => r.handle));
  }

  /** Intents whose owner is gone: what `ipam check` reports as pending workloads. */
  orphanedIntents(): IntentRecord[] {
    return this.storage.intents().filter((i) => this.storage.ownerDead(i.owner));
  }

  /**
   * Finishes or undoes the workload changes of dead processes. An ADD whose endpoint is in
   * the store with the handle's addresses is kept; otherwise its addresses are released.
   * A DELETE is completed. Intents stay when the store is unreachable (next round).
   */
  async recover(): Promise<{ completed: number; undone: number }> {
    let completed = 0;
    let undone = 0;
    for (const intent of this.orphanedIntents()) {
      try {
        if (intent.op === 'add') {
          const held = this.storage.allocationsOfHandle(intent.handle).map((a) => a.address);
          const present = await this.endpointHolds(intent.namespace, intent.name, held, { containerId: intent.containerId, endpoint: intent.endpoint });
          // Only while the intent is still the dead owner's: a retry of the add on a live process
          // may have taken it over (its endpoint write in flight), and keeps the addresses.
          let released: string[] = [];
          if (present) await this.storage.dropIntent(intent.handle, intent.owner);
          else released = await this.storage.releaseByHandle(intent.handle, { owner: intent.owner, onlyIfOwner: true });
          if (present) completed++;
          else undone++;
          this.logger.info({ handle: intent.handle, owner: intent.owner, outcome: present ? 'kept' : 'released', released }, 'recovered an interrupted workload add');
        } else {
          await this.deleteEndpoints(intent.namespace, intent.name, { containerId: intent.containerId, endpoint: intent.endpoint });
          await this.storage.releaseByHandle(intent.handle, {});
          completed++;
          this.logger.info({ handle: intent.handle, owner: intent.owner }, 'completed an interrupted workload delete');
        }
      } catch (err) {
        this.logger.warn({ err: err instanceof Error ? err.message : String(err), handle: intent.handle }, 'cannot recover a workload change yet; will retry');
      }
    }
    return { completed, undone };
  }

  private async endpointHolds(namespace: string, name: string, addresses: readonly string[], filter: EndpointFilter): Promise<boolean> {
    const list = await callUnary(this.store.list.bind(this.store), { kind: 'WorkloadEndpoint', namespace, labelSelector: '' }, { timeoutMs: STORE_TIMEOUT_MS });
    const want = new Set(addresses);
    return list.items.some((r) => {
      if (r.kind?.$case !== 'workloadEndpoint' || !r.kind.value.spec || !endpointOf(r.kind.value, name, filter)) return false;
      const nets = r.kind.value.spec.ipNetworks.map((n) => n.replace(/\/(32|128)$/, ''));
      return nets.length === want.size && nets.every((n) => want.has(n));
    });
  }
}

/** The namespace's labels as the pools' namespaceSelector sees them: Kubernetes' `kubernetes.io/metadata.name` is always there. */
export function namespaceLabelsOf(namespace: string, labels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return { ...labels, 'kubernetes.io/metadata.name': namespace };
}

/** Fixed addresses, checked: IPs (a /32 or /128 suffix allowed), at most one per family. */
export function fixedAddresses(ipAddrs: readonly string[]): { family: 4 | 6; address: string }[] {
  const out: { family: 4 | 6; address: string }[] = [];
  for (const text of ipAddrs) {
    const ip = parseIP(text.trim().replace(/\/(32|128)$/, ''));
    if (!ip) throw new ServiceError('invalid-argument', `ipAddrs: "${text}" is not an IP address`);
    if (out.some((o) => o.family === ip.family)) throw new ServiceError('invalid-argument', `ipAddrs: at most one IPv${ip.family} address may be given, got ${ipAddrs.join(', ')}`);
    out.push({ family: ip.family, address: ip.text });
  }
  return out;
}

function orchestratorOf(value: string | undefined): WorkloadOrchestrator {
  if (value === undefined || value === '' || value === 'k8s') return 'k8s';
  if (value === 'cni') return 'cni';
  throw new ServiceError('invalid-argument', `orchestrator "${value}" is not supported: k8s (a pod) or cni (a bare container)`);
}

/** True when `wep` is the workload `name`'s (its pod, or its workload for cni) and passes the filter. */
function endpointOf(wep: WorkloadEndpoint, name: string, filter: EndpointFilter): boolean {
  const s = wep.spec;
  if (!s || (s.pod || s.workload) !== name) return false;
  if (filter.containerId !== '' && s.containerID !== filter.containerId) return false;
  if (filter.endpoint !== '' && s.endpoint !== filter.endpoint) return false;
  return true;
}

function storeFailure(err: unknown, what: string): Error {
  if (err instanceof ServiceError) return err;
  if (isGrpcError(err)) {
    if (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED) return new ServiceError('unavailable', `${what}: the store is unreachable (${err.details})`);
    if (err.code === status.INVALID_ARGUMENT) return new ServiceError('invalid-argument', `${what}: ${err.details}`);
    return new ServiceError('internal', `${what}: ${err.details}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}
