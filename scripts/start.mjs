#!/usr/bin/env node
// `npm start`: builds what is not built yet, then runs the control plane on this machine
// with its data in ./data: nats-server (when installed, or NATS_URL points at one) and
// tabby-store. Ctrl-C stops everything. (ipam, topology and the demo agents join as they land.)
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const data = path.join(root, 'data');
const storeMain = path.join(root, 'services/store/dist/main.js');

function which(bin) {
  for (const d of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin']) {
    try {
      accessSync(path.join(d, bin), constants.X_OK);
      return path.join(d, bin);
    } catch {
      // keep looking
    }
  }
  return undefined;
}

if (!existsSync(storeMain) || process.env.TABBY_REBUILD === '1') {
  console.log('building (npm run build)...');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
}
mkdirSync(data, { recursive: true });

const children = [];
function run(name, cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push({ name, child });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${name} exited (code ${code}, signal ${signal}); stopping the rest`);
      stop(1);
    }
  });
  return child;
}

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  // Stop in reverse start order (services before the bus they publish to), each by its PID.
  const timer = setTimeout(() => {
    for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
  }, 8000);
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

let natsUrl = process.env.NATS_URL;
const natsServer = which('nats-server');
if (!natsUrl && natsServer) {
  natsUrl = 'nats://127.0.0.1:4222';
  run('nats-server', natsServer, ['-a', '127.0.0.1', '-p', '4222', '-l', path.join(data, 'nats.log')]);
}
const storeArgs = ['--listen', '127.0.0.1:50051', '--data-dir', path.join(data, 'store'), '--metrics', '127.0.0.1:9451'];
if (natsUrl) storeArgs.push('--nats', natsUrl);
run('tabby-store', process.execPath, [storeMain, ...storeArgs]);

console.log(`
Tabby control plane is starting (data in ${data}; Ctrl-C stops it):
  tabby-store  gRPC 127.0.0.1:50051, metrics http://127.0.0.1:9451/metrics
  events       ${natsUrl ? `NATS ${natsUrl}` : 'off (install nats-server or set NATS_URL)'}

Try:
  grpcurl -plaintext 127.0.0.1:50051 list
  grpcurl -plaintext -d '{"resource":{"ipPool":{"metadata":{"name":"default-ipv4-ippool"},"spec":{"cidr":"192.168.0.0/16","ipipMode":"Always","natOutgoing":true}}}}' 127.0.0.1:50051 tabby.v1.ResourceStore/Create
  grpcurl -plaintext -d '{"kind":"ippool"}' 127.0.0.1:50051 tabby.v1.ResourceStore/List
`);
