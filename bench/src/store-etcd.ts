/**
 * bench/store-etcd: Creates/s of the real tabby-store binary on `--datastore etcd` beside what
 * the same etcd takes from a bare etcd3 client, in the same run, with the same number of
 * requests in flight (1, 16, 64), each side over one gRPC channel:
 *
 * - raw put: an etcd Put of the same JSON (a WorkloadEndpoint as the store writes it) to a fresh key;
 * - raw create txn: a Txn "key absent (mod revision 0) → put", which is what a create is;
 * - store Create: ResourceStore.Create of a distinct WorkloadEndpoint over gRPC (validated,
 *   encoded as Calico's JSON, committed to etcd with its compares and guard key, published on
 *   NATS, answered with its resourceVersion).
 *
 * Prints rate, p50/p99 latency and the ratio store/raw txn, plus the CPU each process spent per
 * call. Run: npm run bench:store-etcd -w @tabby/bench (BENCH_ETCD_MEMBERS=3 for a 3-member etcd,
 * BENCH_SHORT=1 for a quick run, BENCH_LEVELS=1,16,64 for the concurrencies, BENCH_RPC_LOG=info to log every call as a default store does,
 * BENCH_BASELINE_STORE=/path/to/services/store/dist/main.js to measure another build beside this one).
 */
import { readFileSync } from 'node:fs';
import { credentials } from '@grpc/grpc-js';
import { metaOf } from '@tabby/api';
import { ProcessGroup, startEtcdCluster, startNats, startService, tempDir } from '@tabby/harness';
import { ResourceStoreClient } from '@tabby/proto';
import { callUnary } from '@tabby/runtime';
import { Etcd3 } from 'etcd3';
import { endpoint, template } from './workload-endpoint.js';

const SHORT = process.env.BENCH_SHORT === '1';
const MEMBERS = Number(process.env.BENCH_ETCD_MEMBERS ?? 1);
/** Another build of tabby-store (its dist/main.js, e.g. of an older commit) to measure beside this one. */
const BASELINE = process.env.BENCH_BASELINE_STORE;
const RPC_LOG = process.env.BENCH_RPC_LOG === 'info' ? 'info' : 'debug';
const LEVELS: readonly number[] = process.env.BENCH_LEVELS ? process.env.BENCH_LEVELS.split(',').map(Number) : SHORT ? [1, 16] : [1, 16, 64];
/** Calls per measurement at each concurrency. */
function ops(c: number): number {
  return Math.min(8_000, 1_000 * Math.ceil(Math.sqrt(c))) / (SHORT ? 5 : 1);
}

function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Figures {
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU µs per call: etcd, the store (0 for raw calls), this client process. */
  readonly etcdCpu: number;
  readonly storeCpu: number;
  readonly clientCpu: number;
  /** etcd KV requests (Range, Put, Txn, ...) per call, from etcd's gRPC metrics. */
  readonly etcdRequests: number;
}

interface Pids {
  readonly etcd: readonly number[];
  readonly store: number;
  /** Client URL of each etcd member (its /metrics). */
  readonly etcdUrls: readonly string[];
}

/** etcd KV requests the members have handled so far. */
async function etcdRequests(urls: readonly string[]): Promise<number> {
  let total = 0;
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const m of text.matchAll(/^grpc_server_handled_total\{[^}]*grpc_service="etcdserverpb\.KV"[^}]*\} (\S+)$/gm)) total += Number(m[1]);
  }
  return total;
}

/** Runs `n` calls of `fn` with `concurrency` in flight; progress on stderr. */
async function measure(label: string, n: number, concurrency: number, pids: Pids, fn: (i: number) => Promise<unknown>): Promise<Figures> {
  const lat = new Array<number>(n);
  let next = 0;
  let done = 0;
  const timer = setInterval(() => process.stderr.write(`  ${label}, ${concurrency} in flight: ${done}/${n}\r`), 500);
  const etcd0 = pids.etcd.reduce((s, p) => s + cpuSeconds(p), 0);
  const store0 = cpuSeconds(pids.store);
  const client0 = process.cpuUsage();
  const requests0 = await etcdRequests(pids.etcdUrls);
  const t0 = process.hrtime.bigint();
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < n; i = next++) {
          const t = process.hrtime.bigint();
          await fn(i);
          lat[i] = Number(process.hrtime.bigint() - t) / 1e6;
          done++;
        }
      }),
    );
  } finally {
    clearInterval(timer);
    process.stderr.write(`${' '.repeat(70)}\r`);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const etcdCpu = pids.etcd.reduce((s, p) => s + cpuSeconds(p), 0) - etcd0;
  const storeCpu = cpuSeconds(pids.store) - store0;
  const client = process.cpuUsage(client0);
  const requests = (await etcdRequests(pids.etcdUrls)) - requests0;
  lat.sort((a, b) => a - b);
  return {
    rate: n / secs,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    etcdCpu: (etcdCpu / n) * 1e6,
    storeCpu: (storeCpu / n) * 1e6,
    clientCpu: (client.user + client.system) / n,
    etcdRequests: requests / n,
  };
}

function row(what: string, f: Figures, ratio?: string): string {
  const store = f.storeCpu >= 50 ? `, store ${f.storeCpu.toFixed(0).padStart(4)}` : '';
  const cpu = `etcd ${f.etcdCpu.toFixed(0).padStart(4)}, client ${f.clientCpu.toFixed(0).padStart(4)}${store} µs`;
  return `  ${what.padEnd(15)} ${Math.round(f.rate).toLocaleString('en').padStart(6)}/s  p50 ${f.p50.toFixed(2).padStart(6)} ms  p99 ${f.p99.toFixed(2).padStart(6)} ms  ${(ratio ?? '').padEnd(22)} etcd requests/call ${f.etcdRequests.toFixed(2)}  CPU/call: ${cpu}`;
}

async function main(): Promise<void> {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bench-store-etcd-');
  try {
    const etcd = await startEtcdCluster(group, `${dir.path}/etcd`, { size: MEMBERS });
    const nats = await startNats(group, dir.path);
    const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--datastore', 'etcd', '--etcd-endpoints', etcd.endpoints, '--nats', nats.url, '--rpc-log', RPC_LOG]);
    const pids: Pids = { etcd: etcd.members.map((m) => m.process.pid), store: store.process.pid, etcdUrls: etcd.members.map((m) => m.clientUrl) };
    const storeClient = new ResourceStoreClient(store.address, credentials.createInsecure());
    let baseline: { client: ResourceStoreClient; pids: Pids } | undefined;
    if (BASELINE) {
      const proc = group.start('tabby-store-baseline', process.execPath, [BASELINE, '--listen', '127.0.0.1:0', '--datastore', 'etcd', '--etcd-endpoints', etcd.endpoints, '--nats', nats.url, '--rpc-log', RPC_LOG]);
      const m = await proc.waitForLine(/"msg":"gRPC listening".*"address":"([^"]+)"|"address":"([^"]+)".*"msg":"gRPC listening"/, 20_000);
      baseline = { client: new ResourceStoreClient(m[1] ?? m[2], credentials.createInsecure()), pids: { ...pids, store: proc.pid } };
    }
    const raw = new Etcd3({ hosts: etcd.endpoints.split(',') });
    const base = template();

    // The value a store create writes, to give the raw calls the same size.
    const probe = await callUnary(storeClient.create.bind(storeClient), { resource: endpoint(base, 'probe') });
    const probeKey = `/calico/resources/v3/projectcalico.org/workloadendpoints/shop/${metaOf(probe.resource ?? base).name}`;
    const value = await raw.get(probeKey).buffer();
    if (!value) throw new Error(`the store's create of ${probeKey} is not in etcd`);

    let run = 0;
    const rawPut = (i: number): Promise<unknown> => raw.kv.put({ key: Buffer.from(`/bench/put/${run}/${i}`), value });
    const rawTxn = (i: number): Promise<unknown> => {
      const key = Buffer.from(`/bench/txn/${run}/${i}`);
      return raw.kv.txn({ compare: [{ key, target: 'Mod', result: 'Equal', mod_revision: 0 }], success: [{ request_put: { key, value } }], failure: [] });
    };
    const storeCreate = (i: number): Promise<unknown> => callUnary(storeClient.create.bind(storeClient), { resource: endpoint(base, `r${run < 0 ? 'w' : run}i${i}`) });
    const baselineCreate = (i: number): Promise<unknown> => {
      const cl = baseline?.client;
      if (!cl) throw new Error('no baseline store');
      return callUnary(cl.create.bind(cl), { resource: endpoint(base, `b${run < 0 ? 'w' : run}i${i}`) });
    };

    console.log(
      `bench/store-etcd: ${value.length}-byte WorkloadEndpoint JSON; etcd ${MEMBERS} member${MEMBERS === 1 ? '' : 's'} on loopback; ` +
        `one gRPC channel per side; store on --datastore etcd, NATS events on, --rpc-log ${RPC_LOG}; ${LEVELS.map((c) => `${ops(c).toLocaleString('en')} calls at ${c} in flight`).join(', ')}`,
    );
    // Warm up every path (connections, JIT) before measuring.
    run = -1;
    for (const fn of [rawPut, rawTxn, storeCreate]) await measure('warm-up', 500, 16, pids, fn);
    if (baseline) await measure('warm-up', 500, 16, baseline.pids, baselineCreate);
    for (const c of LEVELS) {
      run = c;
      const n = ops(c);
      const put = await measure('raw put', n, c, pids, rawPut);
      const txn = await measure('raw create txn', n, c, pids, rawTxn);
      const create = await measure('store Create', n, c, pids, storeCreate);
      console.log(`${c} in flight:`);
      console.log(row('raw etcd put', put));
      console.log(row('raw create txn', txn));
      console.log(row('store Create', create, `${(create.rate / txn.rate).toFixed(2)}× txn, ${(create.rate / put.rate).toFixed(2)}× put`));
      if (baseline) {
        const old = await measure('baseline store Create', n, c, baseline.pids, baselineCreate);
        console.log(row('baseline Create', old, `${(old.rate / txn.rate).toFixed(2)}× txn, ${(old.rate / put.rate).toFixed(2)}× put`));
      }
    }
    raw.close();
    storeClient.close();
    baseline?.client.close();
  } finally {
    await group.stopAll();
    dir.remove();
  }
}

await main();
