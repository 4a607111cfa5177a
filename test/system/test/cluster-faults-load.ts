/**
 * Load for the combined fault test (cluster-faults.test.ts): writers that apply resources
 * through the store replicas in turn and add workloads through the ipam replicas, retrying a
 * failed call on the next replica as a real client would, and recording every acknowledged
 * write and every address handed out.
 */
import { status } from '@grpc/grpc-js';
import { sleep } from '@tabby/harness';
import type { IpamClient, Resource, ResourceStoreClient } from '@tabby/proto';
import { callUnary, isGrpcError } from '@tabby/runtime';
import { resources } from './cluster.js';

/** Codes after which a client tries again (on the next replica): the call may or may not have landed. */
const RETRYABLE: ReadonlySet<number> = new Set([status.UNAVAILABLE, status.ABORTED, status.DEADLINE_EXCEEDED, status.CANCELLED]);

/** How long one write is retried before it counts as given up. */
const GIVE_UP_MS = 60_000;
const CALL_TIMEOUT_MS = 10_000;

/** What a load generator did. */
export interface LoadReport {
  /** Acknowledged writes. */
  acked: number;
  /** Failed attempts that were retried (on another replica). */
  retries: number;
  /** Attempts by gRPC status name, for the log. */
  retriedCodes: Map<string, number>;
  /** Writes that failed with a code no client retries, or were never acknowledged within a minute. */
  failures: string[];
}

function newReport(): LoadReport {
  return { acked: 0, retries: 0, retriedCodes: new Map(), failures: [] };
}

function codeName(err: unknown): string {
  if (!isGrpcError(err)) return err instanceof Error ? err.message : String(err);
  return status[err.code] ?? String(err.code);
}

/**
 * Calls `attempt(replica)` starting on `first`, moving to the next replica after each
 * retryable failure, until one acknowledges; `undefined` when it never does (recorded).
 */
async function untilAcked<T>(report: LoadReport, what: string, replicas: number, first: number, attempt: (replica: number) => Promise<T>): Promise<{ value: T; ambiguous: boolean } | undefined> {
  const deadline = Date.now() + GIVE_UP_MS;
  let ambiguous = false;
  for (let i = first; ; i++) {
    try {
      return { value: await attempt(i % replicas), ambiguous };
    } catch (err) {
      if (!isGrpcError(err) || !RETRYABLE.has(err.code)) {
        report.failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
        return undefined;
      }
      ambiguous = true;
      report.retries++;
      const name = codeName(err);
      report.retriedCodes.set(name, (report.retriedCodes.get(name) ?? 0) + 1);
      if (Date.now() > deadline) {
        report.failures.push(`${what}: not acknowledged within ${GIVE_UP_MS} ms; last error ${err.message}`);
        return undefined;
      }
      await sleep(100);
    }
  }
}

/** The content a resource write carries: what must be read back. */
export interface FilterContent {
  readonly seq: string;
  readonly cidr: string;
}

/** A BGPFilter (referenced by no peer, so the BGP sessions do not care) carrying `content`. */
export function filterResource(name: string, content: FilterContent): Resource {
  const [r] = resources(`apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: ${name}
  labels:
    seq: "${content.seq}"
spec:
  exportV4:
  - action: Accept
    matchOperator: In
    cidr: ${content.cidr}
`);
  return r;
}

/** The content of a BGPFilter read back from a store. */
export function filterContent(r: Resource): { name: string; content: FilterContent } | undefined {
  if (r.kind?.$case !== 'bgpFilter') return undefined;
  const f = r.kind.value;
  return { name: f.metadata?.name ?? '', content: { seq: f.metadata?.labels.seq ?? '', cidr: f.spec?.exportV4[0]?.cidr ?? '' } };
}

/**
 * `writers` loops applying BGPFilters through the store replicas in turn. Each writer updates
 * its current resource again and again (so updates as well as creates are checked); after a
 * write that needed a retry it moves to a new resource, because the failed attempt may still
 * land later and overwrite a newer acknowledged write (that is the client's race, not the
 * store's). `expected` ends with the last acknowledged content of every resource, `acksOf`
 * with the number of acknowledged writes of each (all but the last overwritten by the next).
 */
export function resourceLoad(
  trial: number,
  stores: readonly ResourceStoreClient[],
  writers: number,
): { stop(): Promise<LoadReport>; expected: Map<string, FilterContent>; acksOf: Map<string, number> } {
  const report = newReport();
  const expected = new Map<string, FilterContent>();
  const acksOf = new Map<string, number>();
  let stopped = false;
  let turn = 0;
  const loops = Array.from({ length: writers }, async (_, w) => {
    let generation = 0;
    for (let seq = 0; !stopped; seq++) {
      const name = `t${trial}-w${w}-g${generation}`;
      const content: FilterContent = { seq: String(seq), cidr: `10.${seq % 250}.${w}.0/24` };
      const resource = filterResource(name, content);
      const r = await untilAcked(
        report,
        `apply BGPFilter ${name} seq ${seq}`,
        stores.length,
        turn++,
        (i) => callUnary(stores[i].apply.bind(stores[i]), { resource }, { timeoutMs: CALL_TIMEOUT_MS }),
      );
      if (!r) {
        generation++;
        continue;
      }
      report.acked++;
      expected.set(name, content);
      acksOf.set(name, (acksOf.get(name) ?? 0) + 1);
      if (r.ambiguous) generation++;
      await sleep(15);
    }
  });
  return {
    expected,
    acksOf,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      return report;
    },
  };
}

/**
 * `perReplica` loops per ipam replica adding workloads (each a new pod, on the nodes in turn),
 * a failed add retried with the same pod on the other replica (WorkloadAdd is idempotent per
 * pod). `addresses` ends with pod name → address of every acknowledged add.
 */
export function workloadLoad(trial: number, ipams: readonly IpamClient[], nodes: readonly string[], perReplica: number): { stop(): Promise<LoadReport>; addresses: Map<string, string> } {
  const report = newReport();
  const addresses = new Map<string, string>();
  let stopped = false;
  const loops = Array.from({ length: perReplica * ipams.length }, async (_, l) => {
    const home = l % ipams.length;
    for (let i = 0; !stopped; i++) {
      const name = `t${trial}-a${l}-${i}`;
      const node = nodes[(i + l) % nodes.length];
      const r = await untilAcked(
        report,
        `workload add ${name} on ${node}`,
        ipams.length,
        home,
        (k) => callUnary(ipams[k].workloadAdd.bind(ipams[k]), { namespace: 'default', name, node, labels: {}, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} }, { timeoutMs: CALL_TIMEOUT_MS }),
      );
      if (!r) continue;
      const address = r.value.ipNetworks[0];
      if (address === undefined) {
        report.failures.push(`workload add ${name}: acknowledged without an address`);
        continue;
      }
      report.acked++;
      addresses.set(name, address.replace(/\/32$/, ''));
      await sleep(15);
    }
  });
  return {
    addresses,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      return report;
    },
  };
}
