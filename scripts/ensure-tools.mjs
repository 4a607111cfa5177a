#!/usr/bin/env node
// Makes sure the programs the tests and benchmarks run for real are installed: nats-server, BIRD 2,
// GoBGP, iproute2, busybox, podman, runc, the reference CNI plugins and Chromium, from Debian's packages. As
// root with apt it installs what is missing, with a policy-rc.d that stops Debian from starting
// the daemons (BIRD's default config would export routes into this machine's kernel table).
// Otherwise it stops at once and prints the one command that would install them.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';

const TOOLS = [
  { bin: 'nats-server', pkg: 'nats-server' },
  { bin: 'bird', pkg: 'bird2' },
  { bin: 'birdc', pkg: 'bird2' },
  { bin: 'gobgpd', pkg: 'gobgpd' },
  { bin: 'gobgp', pkg: 'gobgpd' },
  // docker-compose.yml is checked with `docker-compose config -q` (Debian's docker-compose works offline).
  { bin: 'docker-compose', pkg: 'docker-compose' },
  // test/netns builds its fabric of network namespaces with iproute2 and pings through busybox
  // (Debian's images have no iputils-ping).
  { bin: 'ip', pkg: 'iproute2' },
  { bin: 'busybox', pkg: 'busybox-static' },
  // test/cni-runtime runs containers for real: podman 4.3 with its CNI network backend (Debian's
  // podman pulls in conmon, crun and containers-common), runc (the test's OCI runtime: crun 1.8
  // refuses the hybrid cgroup v1/v2 layout of these machines), the reference CNI plugins (Debian
  // puts them in /usr/lib/cni, outside PATH), and nsenter (util-linux) to start podman inside a
  // node namespace. The image is imported from busybox-static's binary: no registry is needed.
  { bin: 'podman', pkg: 'podman' },
  { bin: 'runc', pkg: 'runc' },
  { bin: '/usr/lib/cni/ptp', pkg: 'containernetworking-plugins' },
  { bin: '/usr/lib/cni/host-local', pkg: 'containernetworking-plugins' },
  { bin: 'nsenter', pkg: 'util-linux' },
  // The etcd datastore of store and IPAM is tested against real etcd clusters on loopback.
  { bin: 'etcd', pkg: 'etcd-server' },
  { bin: 'etcdctl', pkg: 'etcd-client' },
  // services/ui's browser test drives Debian's Chromium headless through playwright-core
  // (executablePath): no browser is ever downloaded.
  { bin: '/usr/bin/chromium', pkg: 'chromium' },
];
const DIRS = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];

function installed(bin) {
  if (path.isAbsolute(bin)) {
    try {
      accessSync(bin, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }
  return DIRS.some((d) => {
    if (!d) return false;
    try {
      accessSync(path.join(d, bin), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const missing = [...new Set(TOOLS.filter((t) => !installed(t.bin)).map((t) => t.pkg))];
if (missing.length === 0) process.exit(0);

const POLICY = '/usr/sbin/policy-rc.d';
const POLICY_BODY = '#!/bin/sh\nexit 101\n';
const command = `printf '#!/bin/sh\\nexit 101\\n' > ${POLICY} && chmod +x ${POLICY} && apt-get update && apt-get install -y ${missing.join(' ')}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot || !installed('apt-get')) {
  process.stderr.write(`The tests and benchmarks need ${missing.join(', ')} (Debian packages). Install them as root with:\n  ${command}\n`);
  process.exit(1);
}

process.stdout.write(`installing ${missing.join(', ')} with apt-get (daemons kept from starting by ${POLICY})\n`);
const previous = existsSync(POLICY) ? readFileSync(POLICY) : undefined;
if (previous) renameSync(POLICY, `${POLICY}.tabby-saved`);
writeFileSync(POLICY, POLICY_BODY);
chmodSync(POLICY, 0o755);
try {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Wait for another apt-get (a second `npm test` or `npm run bench` installing the same
  // packages) instead of failing on dpkg's lock.
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  execFileSync('apt-get', [...lock, 'update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', [...lock, 'install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
} catch (err) {
  process.stderr.write(`apt-get failed (${err.message}); install by hand with:\n  ${command}\n`);
  process.exit(1);
} finally {
  // Keep the 101 policy in place unless the machine had its own: the packages' daemons must
  // never start on their own here.
  if (previous) {
    rmSync(POLICY, { force: true });
    renameSync(`${POLICY}.tabby-saved`, POLICY);
  }
}
const still = TOOLS.filter((t) => !installed(t.bin)).map((t) => t.bin);
if (still.length > 0) {
  process.stderr.write(`still missing after apt-get: ${still.join(', ')}\n`);
  process.exit(1);
}
