/**
 * The root README's "Choosing a datastore" instructions, run as written with the example
 * network 10.0.0.0/24 moved to a loopback /24: the /etc/default/etcd it gives (one file per
 * member, its own name and address) starts a three-member etcd with Debian's etcd-server; the
 * tabby-store and tabby-ipam command lines it gives serve on that etcd; `etcdctl get --prefix
 * /calico --keys-only` shows what was applied; the snapshot save, status and restore commands
 * work. So the section cannot drift from what etcd and the binaries accept.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessGroup, REPO_ROOT, eventually, healthCheck, requireTool, tempDir } from '@tabby/harness';

const run = promisify(execFile);
const README = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const SECTION = README.slice(README.indexOf('## Choosing a datastore'), README.indexOf('\n## ', README.indexOf('## Choosing a datastore') + 5));

/** The one match of `re` in the section (its first group), or a failure naming what is missing. */
function one(re: RegExp, what: string): string {
  const m = re.exec(SECTION);
  if (!m) throw new Error(`README.md "Choosing a datastore" has no ${what} (${re})`);
  return m[1];
}

describe("README.md's etcd instructions, run on loopback", () => {
  const group = new ProcessGroup();
  const dir = tempDir('tabby-readme-etcd-');
  const prefix = `127.${100 + Math.floor(Math.random() * 150)}.${1 + Math.floor(Math.random() * 250)}.`;
  /** The README's addresses 10.0.0.X, here. */
  const local = (s: string): string => s.replace(/\b10\.0\.0\.(\d+)\b/g, `${prefix}$1`);
  const etcdctlBin = requireTool('etcdctl', 'etcd-client');
  const etcdctl = async (args: readonly string[]): Promise<string> =>
    (await run(etcdctlBin, [...args], { env: { PATH: process.env.PATH ?? '', ETCDCTL_API: '3' }, cwd: dir.path })).stdout;
  const endpoints = local(one(/^ETCD=(\S+)$/m, 'ETCD=… line'));
  let store = '';

  beforeAll(async () => {
    const conf = one(/cat > \/etc\/default\/etcd <<'CONF'\n([\s\S]*?)\nCONF\n/, "/etc/default/etcd heredoc");
    const vars = new Map(
      conf
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          const m = /^(ETCD_[A-Z_]+)=(\S+)$/.exec(l);
          if (!m) throw new Error(`README.md /etc/default/etcd: "${l}" is not ETCD_NAME=VALUE`);
          return [m[1], m[2]] as const;
        }),
    );
    const firstIp = /^http:\/\/(10\.0\.0\.\d+):2380$/.exec(vars.get('ETCD_INITIAL_ADVERTISE_PEER_URLS') ?? '')?.[1];
    if (!firstIp) throw new Error('README.md /etc/default/etcd: ETCD_INITIAL_ADVERTISE_PEER_URLS is not http://10.0.0.X:2380');
    const members = [...(vars.get('ETCD_INITIAL_CLUSTER') ?? '').matchAll(/(\w+)=http:\/\/(10\.0\.0\.\d+):2380/g)].map((m) => ({ name: m[1], ip: m[2] }));
    expect(members.map((m) => m.name)).toEqual(['etcd1', 'etcd2', 'etcd3']);
    expect(vars.get('ETCD_NAME')).toBe(members[0].name);
    const bin = requireTool('etcd', 'etcd-server');
    for (const m of members) {
      // "The same on each machine, with its own name and address."
      const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
      for (const [k, v] of vars) {
        let value = k === 'ETCD_INITIAL_CLUSTER' ? v : v.split(firstIp).join(m.ip);
        if (k === 'ETCD_NAME') value = m.name;
        if (k === 'ETCD_DATA_DIR') value = path.join(dir.path, m.name);
        value = local(value);
        // Each machine's own 127.0.0.1: here, the member's own address (once).
        if (k === 'ETCD_LISTEN_CLIENT_URLS') value = [...new Set(value.split(',').map((u) => u.replace('//127.0.0.1:', `//${local(m.ip)}:`)))].join(',');
        env[k] = value;
      }
      group.start(m.name, bin, [], { env, logFile: path.join(dir.path, `${m.name}.log`) });
    }
    await eventually('the three members to be healthy', async () => (await etcdctl(['--endpoints', endpoints, 'endpoint', 'health']).then(() => true, () => false)) || undefined, 30_000, 200);
  }, 60_000);

  afterAll(async () => {
    await group.stopAll();
    dir.remove();
  });

  it("says which addresses take a list of replicas as the binaries' --help does", () => {
    // The README: store and IPAM clients take one HOST:PORT; the agents' --topology takes a list.
    const one = /take one\s+`HOST:PORT` today, not a list/.test(SECTION);
    const listed = (bin: string, flag: string): boolean => {
      const text = execFileSync(path.join(REPO_ROOT, 'node_modules', '.bin', bin), ['--help'], { encoding: 'utf8' });
      const line = text.split('\n').find((l) => l.trimStart().startsWith(`--${flag} `));
      if (!line) throw new Error(`${bin} --help lists no --${flag}`);
      return /comma-separated|replicas/.test(line);
    };
    expect(listed('tabby-agent', 'topology')).toBe(true);
    expect(SECTION).toMatch(/the agents' `--topology` and tabbyctl's take them as a list/);
    for (const [bin, flag] of [['tabby-ipam', 'store'], ['tabby-topology', 'store'], ['tabby-topology', 'ipam'], ['tabby-agent', 'store']] as const) {
      // When these take lists, the README's paragraph (and deploy/compose.etcd.yml's aliases) are to be updated.
      expect(listed(bin, flag), `${bin} --${flag}: README.md "Choosing a datastore" says ${one ? 'one HOST:PORT' : 'a list'}: update that paragraph`).toBe(!one);
    }
  });

  it('starts a three-member etcd', async () => {
    const members = await etcdctl(['--endpoints', endpoints, 'member', 'list']);
    expect(members.trim().split('\n')).toHaveLength(3);
    expect(members.match(/, started, /g)).toHaveLength(3);
  });

  it("the store and IPAM command lines serve on it, and etcdctl get --prefix /calico --keys-only shows what they keep", async () => {
    const line = (bin: string): string[] => {
      const text = one(new RegExp(`^npx ${bin} +(.*?)(?: +#.*)?$`, 'm'), `npx ${bin} line`);
      return local(text)
        .replace('$ETCD', endpoints)
        .split(/\s+/)
        .filter((a) => a !== '');
    };
    const withoutNats = (args: string[]): string[] => {
      // The README's NATS cluster is not started here: events off.
      const i = args.indexOf('--nats');
      return i < 0 ? args : [...args.slice(0, i), ...args.slice(i + 2)];
    };
    const storeArgs = withoutNats(line('tabby-store'));
    store = storeArgs[storeArgs.indexOf('--listen') + 1];
    const env = { PATH: process.env.PATH ?? '', HOME: dir.path };
    group.start('tabby-store', path.join(REPO_ROOT, 'node_modules', '.bin', 'tabby-store'), storeArgs, { env, logFile: path.join(dir.path, 'store.log') });
    await eventually('tabby-store SERVING', async () => (await healthCheck(store).catch(() => '')) === 'SERVING' || undefined, 30_000, 200);
    const ipamArgs = withoutNats(line('tabby-ipam')).map((a) => (a === 'store.example:50051' ? store : a));
    const ipam = ipamArgs[ipamArgs.indexOf('--listen') + 1];
    group.start('tabby-ipam', path.join(REPO_ROOT, 'node_modules', '.bin', 'tabby-ipam'), ipamArgs, { env, logFile: path.join(dir.path, 'ipam.log') });
    await eventually('tabby-ipam SERVING', async () => (await healthCheck(ipam).catch(() => '')) === 'SERVING' || undefined, 30_000, 200);

    const pool = path.join(dir.path, 'pool.yaml');
    writeFileSync(
      pool,
      [
        'apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata:\n  name: default\nspec:\n  asNumber: 64512\n',
        'apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: node1\nspec:\n  bgp:\n    ipv4Address: 127.0.0.11/32\n',
        'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: default-ipv4-ippool\nspec:\n  cidr: 192.168.0.0/16\n',
      ].join('---\n'),
    );
    const tabbyctl = path.join(REPO_ROOT, 'node_modules', '.bin', 'tabbyctl');
    const ctlEnv = { ...env, TABBY_CONFIG: '', TABBY_STORE_ADDR: store, TABBY_IPAM_ADDR: ipam };
    await run(tabbyctl, ['apply', '-f', pool], { env: ctlEnv });
    await eventually('ipam to see the pool', async () => (await run(tabbyctl, ['workload', 'add', 'default/web-1', '--node', 'node1'], { env: ctlEnv }).then(() => true, () => false)) || undefined, 30_000, 500);

    const get = one(/^\$ (ETCDCTL_API=3 etcdctl --endpoints \$ETCD get --prefix \/calico --keys-only)$/m, 'etcdctl get --prefix /calico line');
    const keys = await etcdctl(get.replace(/^ETCDCTL_API=3 etcdctl /, '').replace('$ETCD', endpoints).split(' '));
    expect(keys).toContain('/calico/resources/v3/projectcalico.org/ippools/default-ipv4-ippool');
    expect(keys).toMatch(/^\/calico\/resources\/v3\/projectcalico\.org\/workloadendpoints\/default\/node1-k8s-web--1-eth0$/m);
    expect(keys).toMatch(/^\/calico\/ipam\/v2\/assignment\/ipv4\/block\/192\.168\.\d+\.\d+-26$/m);
    expect(keys).toMatch(/^\/calico\/ipam\/v2\/host\/node1\/ipv4\/block\/192\.168\.\d+\.\d+-26$/m);
    expect(keys).toMatch(/^\/calico\/ipam\/v2\/handle\//m);
    expect(keys).toContain('/calico/ipam/v2/config');
    // Every key the README shows is there (a block's address may differ; the handle is elided).
    const shown = SECTION.slice(SECTION.indexOf(get)).split('```')[0].split('\n').slice(1).filter((l) => l.startsWith('/calico/'));
    expect(shown.length).toBeGreaterThanOrEqual(6);
    for (const key of shown) {
      const re = new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('…', '.+').replace('192\\.168\\.0\\.0-26', '192\\.168\\.\\d+\\.\\d+-26')}$`, 'm');
      expect(keys, `README shows ${key}`).toMatch(re);
    }
  }, 120_000);

  it('the snapshot save, status and restore commands work', async () => {
    const save = one(/^(ETCDCTL_API=3 etcdctl --endpoints \S+ snapshot save .+)$/m, 'snapshot save line');
    const status = one(/^(ETCDCTL_API=3 etcdctl snapshot status .+ -w table)$/m, 'snapshot status line');
    const sh = (cmd: string): Promise<{ stdout: string }> => run('sh', ['-c', cmd], { cwd: dir.path, env: { PATH: process.env.PATH ?? '' } });
    await sh(local(save));
    const file = (await sh('ls tabby-*.db')).stdout.trim();
    expect(file).toMatch(/^tabby-\d{4}-\d\d-\d\d\.db$/);
    expect((await sh(status)).stdout).toMatch(/TOTAL KEYS/);
    const restore = one(/^(ETCDCTL_API=3 etcdctl snapshot restore [\s\S]*?--data-dir \S+)$/m, 'snapshot restore command')
      .replace(/\\\n\s*/g, '')
      .replace(/snapshot restore \S+/, `snapshot restore ${file}`)
      .replace(/--data-dir \S+/, `--data-dir ${path.join(dir.path, 'restored')}`);
    await sh(local(restore));
    expect(existsSync(path.join(dir.path, 'restored', 'member', 'snap', 'db'))).toBe(true);
  }, 60_000);
});
