#!/usr/bin/env node
// `npm start`: builds what is not built yet, then runs the whole control plane on this
// machine with its data in ./data — nats-server (when installed, or NATS_URL points at one),
// tabby-store, tabby-ipam, tabby-topology, tabby-ui (the web view, http://127.0.0.1:8080/) — and a demo cluster: three agents (node1..node3 on
// 127.0.0.11-13, BGP port 1790, dialling only 127.0.0.0/8), a default pool and a workload per
// node. Ctrl-C stops everything, each child by its PID.
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const data = path.join(root, 'data');
const bin = (service) => path.join(root, `services/${service}/dist/main.js`);
const BGP_PORT = 1790;
const NODES = [
  { name: 'node1', address: '127.0.0.11', grpc: 50054, metrics: 9454 },
  { name: 'node2', address: '127.0.0.12', grpc: 50055, metrics: 9455 },
  { name: 'node3', address: '127.0.0.13', grpc: 50056, metrics: 9456 },
];

function which(name) {
  for (const d of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin']) {
    try {
      accessSync(path.join(d, name), constants.X_OK);
      return path.join(d, name);
    } catch {
      // keep looking
    }
  }
  return undefined;
}

if (['store', 'ipam', 'topology', 'agent', 'ui'].some((s) => !existsSync(bin(s))) || !existsSync(path.join(root, 'packages/cli/dist/main.js')) || process.env.TABBY_REBUILD === '1') {
  console.log('building (npm run build)...');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
}
mkdirSync(data, { recursive: true });

const { credentials } = await import('@grpc/grpc-js');
const { IpamClient, ResourceStoreClient } = await import('@tabby/proto');
const { parseManifest } = await import('@tabby/api');

const children = [];
let stopping = false;
function run(name, cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, TABBY_LOG_LEVEL: process.env.TABBY_LOG_LEVEL ?? 'warn' } });
  children.push({ name, child });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (code ${code}, signal ${signal}); stopping the rest`);
      stop(1);
    }
  });
  return child;
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  // Reverse start order: agents (CEASE to their peers) first, the bus last; each by its PID.
  const timer = setTimeout(() => {
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, 10_000);
  (async () => {
    for (const { child } of [...children].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    clearTimeout(timer);
    process.exit(code);
  })();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

function unary(client, method, req) {
  return new Promise((resolve, reject) => client[method](req, (err, res) => (err ? reject(err) : resolve(res))));
}

async function until(what, fn, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${err.details ?? err.message}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let natsUrl = process.env.NATS_URL;
const natsServer = which('nats-server');
if (!natsUrl && natsServer) {
  natsUrl = 'nats://127.0.0.1:4222';
  run('nats-server', natsServer, ['-a', '127.0.0.1', '-p', '4222', '-l', path.join(data, 'nats.log')]);
}
const nats = natsUrl ? ['--nats', natsUrl] : [];
run('tabby-store', process.execPath, [bin('store'), '--listen', '127.0.0.1:50051', '--data-dir', path.join(data, 'store'), '--metrics', '127.0.0.1:9451', ...nats]);

const store = new ResourceStoreClient('127.0.0.1:50051', credentials.createInsecure());
const ipam = new IpamClient('127.0.0.1:50052', credentials.createInsecure());
try {
  // The demo cluster, created once (a later `npm start` keeps whatever you changed).
  await until('tabby-store', () => unary(store, 'list', { kind: 'IPPool', namespace: '', labelSelector: '' }));
  run('tabby-ipam', process.execPath, [bin('ipam'), '--listen', '127.0.0.1:50052', '--data-dir', path.join(data, 'ipam'), '--store', '127.0.0.1:50051', '--metrics', '127.0.0.1:9452', ...nats]);
  run('tabby-topology', process.execPath, [bin('topology'), '--listen', '127.0.0.1:50053', '--store', '127.0.0.1:50051', '--ipam', '127.0.0.1:50052', '--metrics', '127.0.0.1:9453', ...nats]);
  // The web view (loopback only: no TLS or token needed); it follows the others as they come up.
  run('tabby-ui', process.execPath, [bin('ui'), '--listen', '127.0.0.1:8080', '--store', '127.0.0.1:50051', '--topology', '127.0.0.1:50053', '--ipam', '127.0.0.1:50052']);
  const pools = await unary(store, 'list', { kind: 'IPPool', namespace: '', labelSelector: '' });
  const fresh = pools.items.length === 0;
  if (fresh) {
    const demo = parseManifest(
      [
        'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: default-ipv4-ippool\nspec:\n  cidr: 192.168.0.0/16\n  ipipMode: Always\n  natOutgoing: true\n',
        // Each demo node listens on 1790 (per-node BGPConfigurations leave `default` to you).
        ...NODES.map((n) => `apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata:\n  name: node.${n.name}\nspec:\n  listenPort: ${BGP_PORT}\n`),
      ].join('---\n'),
    );
    if (demo.errors.length > 0) throw new Error(demo.errors[0].message);
    for (const r of demo.resources) {
      await unary(store, 'create', { resource: r.resource }).catch((err) => {
        if (err.code !== 6) throw err; // ALREADY_EXISTS: keep what is there
      });
    }
  }
  for (const n of NODES) {
    run(`tabby-agent ${n.name}`, process.execPath, [
      bin('agent'),
      '--node',
      n.name,
      '--listen',
      `127.0.0.1:${n.grpc}`,
      '--bgp-address',
      n.address,
      // Three agents share this machine: each listens on its own loopback address only.
      '--bgp-listen',
      'node-address',
      '--peer-allow',
      '127.0.0.0/8',
      '--hold-time',
      '30',
      '--metrics',
      `127.0.0.1:${n.metrics}`,
      ...nats,
    ]);
  }
  if (fresh) {
    await until('every node registered', async () => (await unary(store, 'list', { kind: 'Node', namespace: '', labelSelector: '' })).items.length === NODES.length);
    await until('tabby-ipam', () => unary(ipam, 'utilization', { includeBlocks: false }).then((u) => u.pools.length > 0));
    for (const [i, n] of NODES.entries()) {
      await unary(ipam, 'workloadAdd', { namespace: 'default', name: `web-${i + 1}`, node: n.name, labels: { app: 'web' }, numIpv4: 1, numIpv6: 0, ipv4Pools: [], ipv6Pools: [], ipAddrs: [], namespaceLabels: {} });
    }
  }
} catch (err) {
  console.error(`npm start: ${err.message}`);
  stop(1);
}
store.close();
ipam.close();

if (!stopping) {
  console.log(`
Tabby is running (data in ${data}; Ctrl-C stops it; TABBY_LOG_LEVEL=info for more logs):
  tabby-store     gRPC 127.0.0.1:50051   metrics http://127.0.0.1:9451/metrics
  tabby-ipam      gRPC 127.0.0.1:50052   metrics http://127.0.0.1:9452/metrics
  tabby-topology  gRPC 127.0.0.1:50053   metrics http://127.0.0.1:9453/metrics
  tabby-ui        http://127.0.0.1:8080/
  agents          node1..node3 on 127.0.0.11-13 (BGP port ${BGP_PORT}), gRPC 127.0.0.1:50054-50056, metrics :9454-9456
  events          ${natsUrl ? `NATS ${natsUrl}` : 'off (install nats-server or set NATS_URL)'}

Try:
  npx tabbyctl node status node1
  npx tabbyctl get wep --all-namespaces
  npx tabbyctl ipam show --show-blocks
  npx tabbyctl topology show
  npx tabbyctl node routes node1
  npx tabbyctl workload add default/web-4 --node node2
  npx tabbyctl get ippool -o wide
  grpcurl -plaintext 127.0.0.1:50053 list
`);
}
