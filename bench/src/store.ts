/**
 * bench/store: the real tabby-store binary over gRPC on loopback, 64 calls in flight.
 * Prints durable Creates/s (each acknowledged only after its transaction is fsynced),
 * Gets/s, and List latency over 1,000 objects. Run: npm run bench -w @tabby/bench.
 */
import { credentials } from '@grpc/grpc-js';
import { ObjectMeta, ResourceStoreClient, type Resource } from '@tabby/proto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ProcessGroup, startNats, startService, tempDir } from '@tabby/harness';
import { mustFindKind } from '@tabby/api';
import { callUnary, createLogger } from '@tabby/runtime';
import { ResourceStore, openDatabase } from '@tabby/store';

const CONCURRENCY = 64;
const CHANNELS = 4;
const CREATES = Number(process.env.BENCH_CREATES ?? 20_000);
const GET_SECONDS = Number(process.env.BENCH_GET_SECONDS ?? 10);
const LIST_OBJECTS = 1_000;
const LIST_CALLS = Number(process.env.BENCH_LIST_CALLS ?? 300);

function peer(name: string): Resource {
  return {
    kind: {
      $case: 'bgpPeer',
      value: {
        metadata: ObjectMeta.fromPartial({ name, labels: { bench: 'yes' } }),
        spec: {
          node: '',
          nodeSelector: '',
          peerIP: '192.0.2.10',
          asNumber: 64512,
          localASNumber: undefined,
          peerSelector: '',
          keepOriginalNextHop: false,
          nextHopMode: '',
          password: undefined,
          sourceAddress: '',
          maxRestartTime: '',
          numAllowedLocalASNumbers: undefined,
          ttlSecurity: undefined,
          reachableBy: '',
          filters: [],
          localWorkloadSelector: '',
          reversePeering: '',
          keepaliveTime: '',
        },
      },
    },
  };
}

function node(name: string): Resource {
  return {
    kind: {
      $case: 'node',
      value: {
        metadata: ObjectMeta.fromPartial({ name, labels: { rack: `r${name.length % 7}` } }),
        spec: {
          bgp: { asNumber: undefined, ipv4Address: '10.0.0.1/24', ipv6Address: '', ipv4IPIPTunnelAddr: '', routeReflectorClusterID: '' },
          ipv4VXLANTunnelAddr: '',
          vxlanTunnelMACAddr: '',
          ipv6VXLANTunnelAddr: '',
          vxlanTunnelMACAddrV6: '',
          orchRefs: [],
          wireguard: undefined,
          addresses: [],
          interfaces: [],
        },
        status: undefined,
      },
    },
  };
}

async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<number[]> {
  const latencies: number[] = new Array<number>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < n; i = next++) {
        const t = process.hrtime.bigint();
        await fn(i);
        latencies[i] = Number(process.hrtime.bigint() - t) / 1e6;
      }
    }),
  );
  return latencies;
}

function pct(sorted: number[], p: number): string {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))].toFixed(2);
}

function progress(label: string, done: () => number, total: number): () => void {
  const timer = setInterval(() => process.stderr.write(`  ${label}: ${done()}/${total}\r`), 1000);
  return () => {
    clearInterval(timer);
    process.stderr.write(`${' '.repeat(60)}\r`);
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function perCall(cpu: number, calls: number): string {
  return `${((cpu / calls) * 1e6).toFixed(0)} µs server CPU per call`;
}

async function getRate(address: string, seconds: number, names: (i: number) => string): Promise<{ rate: number; lat: number[] }> {
  const clients = Array.from({ length: CHANNELS }, () => new ResourceStoreClient(address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  let gets = 0;
  const deadline = Date.now() + seconds * 1000;
  const lat: number[] = [];
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      const cl = clients[w % CHANNELS];
      for (let i = w; Date.now() < deadline; i += CONCURRENCY) {
        const t = process.hrtime.bigint();
        await callUnary(cl.get.bind(cl), { kind: 'BGPPeer', namespace: '', name: names(i) });
        lat.push(Number(process.hrtime.bigint() - t) / 1e6);
        gets++;
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const cl of clients) cl.close();
  lat.sort((a, b) => a - b);
  return { rate: gets / secs, lat };
}

async function main(): Promise<void> {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-bench-');
  try {
    // Always with NATS, as the store runs in production: a missing nats-server stops the bench
    // with the command that installs it rather than printing figures of a different setup.
    const nats = await startNats(group, dir.path);
    const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`, '--nats', nats.url]);
    const clients = Array.from({ length: CHANNELS }, () => new ResourceStoreClient(store.address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
    const c = (i: number): ResourceStoreClient => clients[i % CHANNELS];

    console.log(`tabby-store benchmark: ${CONCURRENCY} calls in flight over ${CHANNELS} channels, store logs every call at info, NATS events on`);
    let created = 0;
    const stopCreate = progress('creates', () => created, CREATES);
    let cpu0 = cpuSeconds(store.process.pid);
    const t0 = process.hrtime.bigint();
    const createLat = await pool(CREATES, CONCURRENCY, async (i) => {
      const cl = c(i);
      await callUnary(cl.create.bind(cl), { resource: peer(`peer-${i}`) });
      created++;
    });
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    stopCreate();
    createLat.sort((a, b) => a - b);
    console.log(
      `durable Create: ${(CREATES / secs).toFixed(0)}/s  (${CREATES} in ${secs.toFixed(2)} s; latency p50 ${pct(createLat, 50)} ms, p99 ${pct(createLat, 99)} ms; ${perCall(cpuSeconds(store.process.pid) - cpu0, CREATES)}; WAL, synchronous=FULL, group commit)`,
    );
    cpu0 = cpuSeconds(store.process.pid);

    const get = await getRate(store.address, GET_SECONDS, (i) => `peer-${i % CREATES}`);
    const getCpu = perCall(cpuSeconds(store.process.pid) - cpu0, get.lat.length);
    const echo = group.start('grpc-echo', process.execPath, [fileURLToPath(new URL('./echo-server.js', import.meta.url))]);
    const echoAddress = (await echo.waitForLine(/"address":"([^"]+)"/))[1];
    const echoCpu0 = cpuSeconds(echo.pid);
    const base = await getRate(echoAddress, GET_SECONDS, () => 'x');
    const echoCpu = perCall(cpuSeconds(echo.pid) - echoCpu0, base.lat.length);
    await echo.stop();
    console.log(
      `Get: ${get.rate.toFixed(0)}/s (latency p50 ${pct(get.lat, 50)} ms, p99 ${pct(get.lat, 99)} ms; ${getCpu})  |  bare grpc-js server, same client: ${base.rate.toFixed(0)}/s (p50 ${pct(base.lat, 50)} ms; ${echoCpu})`,
    );

    await pool(LIST_OBJECTS, CONCURRENCY, async (i) => {
      const cl = c(i);
      await callUnary(cl.create.bind(cl), { resource: node(`node-${i}`) });
    });
    const single: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = process.hrtime.bigint();
      const r = await callUnary(clients[0].list.bind(clients[0]), { kind: 'Node', namespace: '', labelSelector: '' });
      single.push(Number(process.hrtime.bigint() - t) / 1e6);
      if (r.items.length !== LIST_OBJECTS) throw new Error(`List returned ${r.items.length} objects`);
    }
    single.sort((a, b) => a - b);
    const t1 = process.hrtime.bigint();
    const listLat = await pool(LIST_CALLS, CONCURRENCY, async (i) => {
      const cl = c(i);
      await callUnary(cl.list.bind(cl), { kind: 'Node', namespace: '', labelSelector: '' });
    });
    const listSecs = Number(process.hrtime.bigint() - t1) / 1e9;
    listLat.sort((a, b) => a - b);
    console.log(
      `List(${LIST_OBJECTS}): one at a time p50 ${pct(single, 50)} ms, p99 ${pct(single, 99)} ms; ${CONCURRENCY} in flight p50 ${pct(listLat, 50)} ms, p99 ${pct(listLat, 99)} ms, ${(LIST_CALLS / listSecs).toFixed(0)} lists/s`,
    );
    for (const cl of clients) cl.close();

    // The storage engine alone, in this process: what the store could do without gRPC.
    const logger = createLogger({ service: 'bench', level: 'silent' });
    const engine = new ResourceStore({ db: openDatabase(`${dir.path}/engine`, logger), logger, eventRetention: 100_000 });
    const e0 = process.hrtime.bigint();
    await pool(CREATES, CONCURRENCY, (i) => engine.create(peer(`peer-${i}`)));
    const eSecs = Number(process.hrtime.bigint() - e0) / 1e9;
    const kind = mustFindKind('BGPPeer');
    const g0 = process.hrtime.bigint();
    const N = 200_000;
    for (let i = 0; i < N; i++) engine.get(kind, '', `peer-${i % CREATES}`);
    const gSecs = Number(process.hrtime.bigint() - g0) / 1e9;
    engine.close();
    console.log(`engine alone (no gRPC, same process): durable Create ${(CREATES / eSecs).toFixed(0)}/s, Get ${(N / gSecs).toFixed(0)}/s`);
  } finally {
    await group.stopAll();
    dir.remove();
  }
}

await main();
