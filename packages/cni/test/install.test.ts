/**
 * `tabby-cni install`, run as the agent DaemonSet's init container runs it: the built
 * executables (the bundle under node, and the single executable) as separate processes, with
 * flags or the environment the manifest gives, into directories of a temp folder standing for
 * the host's /opt/cni/bin and /etc/cni/net.d. What is installed is then run: the plugin answers
 * VERSION from where it was put, and the conflist is what the plugin itself accepts.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '@tabby/harness';
import { afterAll, describe, expect, it } from 'vitest';
import { INSTALL_USAGE, TEMPLATE_PLACEHOLDERS, parseNetworkConfig } from '../src/index.js';

const BUNDLE = path.resolve(import.meta.dirname, '../dist/tabby-cni');
const SEA = path.resolve(import.meta.dirname, '../dist/sea/tabby-cni');
const dir = tempDir('tabby-cni-install-');
afterAll(() => dir.remove());

let n = 0;
/** A fresh pair of directories standing for the host's CNI directories. */
function host(): { bin: string; conf: string; root: string } {
  const root = path.join(dir.path, `host-${++n}`);
  return { root, bin: path.join(root, 'opt/cni/bin'), conf: path.join(root, 'etc/cni/net.d') };
}

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `install` through the given executable, with only the environment given (plus PATH). */
function install(exe: string, args: readonly string[], env: Record<string, string> = {}): Run {
  const argv = exe === BUNDLE ? [process.execPath, [BUNDLE, 'install', ...args]] : [exe, ['install', ...args]];
  const r = spawnSync(argv[0] as string, argv[1] as string[], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const conflistOf = (conf: string, name = '10-tabby.conflist'): Record<string, unknown> => JSON.parse(readFileSync(path.join(conf, name), 'utf8')) as Record<string, unknown>;
/** The tabby-cni entry as the runtime hands it to the plugin, through the plugin's own parser. */
function pluginView(list: Record<string, unknown>): ReturnType<typeof parseNetworkConfig> {
  const entry = (list.plugins as Record<string, unknown>[]).find((p) => p.type === 'tabby-cni');
  return parseNetworkConfig(JSON.stringify({ ...entry, cniVersion: list.cniVersion, name: list.name }));
}
const version = (exe: string): string => spawnSync(exe, [], { env: { CNI_COMMAND: 'VERSION' }, encoding: 'utf8' }).stdout;
/** Every file under `root`, relative: what an install left behind (temp files included). */
const filesUnder = (root: string): string[] =>
  existsSync(root) ? readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(root, path.join(e.parentPath, e.name))).sort() : [];

describe('tabby-cni install', () => {
  it('is built: the bundle and the single executable, which runs without node on PATH', () => {
    expect(existsSync(BUNDLE), `${BUNDLE} (npm run build)`).toBe(true);
    expect(existsSync(SEA), `${SEA} (npm run build)`).toBe(true);
    const r = spawnSync(SEA, [], { env: { CNI_COMMAND: 'VERSION', PATH: '/nonexistent' }, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ cniVersion: '1.0.0' });
  });

  it('--help lists every option and placeholder; an unknown option is refused with exit 2', () => {
    const help = install(BUNDLE, ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toBe(INSTALL_USAGE);
    for (const p of TEMPLATE_PLACEHOLDERS) expect(help.stdout).toContain(p);
    const bad = install(BUNDLE, ['--bin-dri', '/x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/Unknown option '--bin-dri'.*--help/);
  });

  for (const [label, exe] of [
    ['the single executable', SEA],
    ['the bundle', BUNDLE],
  ] as const) {
    it(`from ${label}: the plugin and a conflist the plugin accepts, with the manifest's environment`, () => {
      const h = host();
      const r = install(exe, [], {
        CNI_BIN_DIR: h.bin,
        CNI_NET_DIR: h.conf,
        KUBERNETES_NODE_NAME: 'worker-7',
        TABBY_STORE: 'localhost:50051',
        TABBY_IPAM: '127.0.0.1:50052',
        CNI_MTU: '1440',
      });
      expect(r.status, r.stderr).toBe(0);
      // Structured logs on stdout, one JSON object a line.
      const logs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(logs.map((l) => l.msg)).toEqual(['resolved', 'plugin installed', 'conflist written']);

      const installed = path.join(h.bin, 'tabby-cni');
      expect(statSync(installed).mode & 0o777).toBe(0o755);
      expect(readFileSync(installed).equals(readFileSync(SEA)), 'the single executable is what goes to the node').toBe(true);
      expect(JSON.parse(version(installed))).toMatchObject({ cniVersion: '1.0.0' });
      expect(filesUnder(h.root)).toEqual(['etc/cni/net.d/10-tabby.conflist', 'opt/cni/bin/tabby-cni']);

      const list = conflistOf(h.conf);
      // 1.0.0 for every runtime; 1.1.0 (GC, STATUS) offered to those that know it.
      expect(list).toMatchObject({ cniVersion: '1.0.0', cniVersions: ['1.0.0', '1.1.0'], name: 'k8s-pod-network' });
      const cfg = pluginView(list);
      expect(cfg.nodename).toBe('worker-7');
      expect(cfg.mtu).toBe(1440);
      // The name was resolved: a node's runtime often cannot resolve what the init container can.
      expect(cfg.tabby.store).toBe('127.0.0.1:50051');
      expect(cfg.tabby.ipam).toBe('127.0.0.1:50052');
      expect(cfg.ipam.assignIpv4 && !cfg.ipam.assignIpv6).toBe(true);
      expect(cfg.logLevel).toBe('info');
      expect(cfg.logFilePath).toBe('/var/log/tabby/cni.log');
      expect((list.plugins as Record<string, unknown>[])[0]).toMatchObject({ capabilities: { 'io.kubernetes.cri.pod-annotations': true } });
    });
  }

  it('again with nothing changed touches nothing; a changed setting rewrites the conflist only, by rename', () => {
    const h = host();
    const args = ['--bin-dir', h.bin, '--conf-dir', h.conf, '--node', 'n1'];
    expect(install(SEA, args).status).toBe(0);
    const bin0 = statSync(path.join(h.bin, 'tabby-cni'));
    const conf0 = statSync(path.join(h.conf, '10-tabby.conflist'));

    const again = install(SEA, args);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('"msg":"plugin already installed"');
    expect(again.stdout).toContain('"msg":"conflist unchanged"');
    expect(statSync(path.join(h.bin, 'tabby-cni')).ino).toBe(bin0.ino);
    expect(statSync(path.join(h.conf, '10-tabby.conflist')).ino).toBe(conf0.ino);

    const changed = install(SEA, [...args, '--ipam', '127.0.0.9:6000', '--assign-ipv6']);
    expect(changed.status).toBe(0);
    expect(statSync(path.join(h.bin, 'tabby-cni')).ino).toBe(bin0.ino);
    // A new file renamed over the old one: a runtime reading it sees one or the other, whole.
    expect(statSync(path.join(h.conf, '10-tabby.conflist')).ino).not.toBe(conf0.ino);
    const cfg = pluginView(conflistOf(h.conf));
    expect(cfg.tabby.ipam).toBe('127.0.0.9:6000');
    expect(cfg.ipam.assignIpv6).toBe(true);
    expect(filesUnder(h.root)).toEqual(['etc/cni/net.d/10-tabby.conflist', 'opt/cni/bin/tabby-cni']);
  });

  it('a plugin replaced while a runtime runs the old one: the old process is unaffected, the next call gets the new file', () => {
    const h = host();
    const args = ['--bin-dir', h.bin, '--conf-dir', h.conf, '--node', 'n1'];
    mkdirSync(h.bin, { recursive: true });
    // An older "plugin" in place (a script), as after an upgrade of the image.
    writeFileSync(path.join(h.bin, 'tabby-cni'), '#!/bin/sh\necho old\n');
    chmodSync(path.join(h.bin, 'tabby-cni'), 0o755);
    expect(spawnSync(path.join(h.bin, 'tabby-cni'), { encoding: 'utf8' }).stdout).toBe('old\n');
    const r = install(BUNDLE, args);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('"changed":true');
    expect(JSON.parse(version(path.join(h.bin, 'tabby-cni')))).toMatchObject({ cniVersion: '1.0.0' });
  });

  it('host names kept with --no-resolve; a name that never resolves fails with exit 2, naming it, and writes nothing', () => {
    const h = host();
    const kept = install(BUNDLE, ['--bin-dir', h.bin, '--conf-dir', h.conf, '--store', 'tabby-store.tabby-system.svc:50051', '--no-resolve', '--skip-binary']);
    expect(kept.status, kept.stderr).toBe(0);
    expect(pluginView(conflistOf(h.conf)).tabby.store).toBe('tabby-store.tabby-system.svc:50051');
    expect(filesUnder(h.root)).toEqual(['etc/cni/net.d/10-tabby.conflist']);

    const h2 = host();
    const failed = install(BUNDLE, ['--bin-dir', h2.bin, '--conf-dir', h2.conf, '--ipam', 'no-such-host.invalid:50052', '--resolve-timeout', '0']);
    expect(failed.status).toBe(2);
    expect(failed.stderr).toMatch(/--ipam no-such-host\.invalid:50052: no-such-host\.invalid does not resolve/);
    expect(filesUnder(h2.root)).toEqual([]);
  });

  it('TLS: the files go beside the conflist (key 0600) and the conflist names them where the node sees them', () => {
    const h = host();
    const src = path.join(dir.path, 'tls-src');
    mkdirSync(src, { recursive: true });
    for (const f of ['ca.pem', 'cni.pem', 'cni-key.pem']) writeFileSync(path.join(src, f), `${f} contents\n`);
    const r = install(BUNDLE, ['--skip-binary', '--conf-dir', h.conf, '--host-conf-dir', '/etc/cni/net.d'], {
      TABBY_TLS_CA: path.join(src, 'ca.pem'),
      TABBY_TLS_CERT: path.join(src, 'cni.pem'),
      TABBY_TLS_KEY: path.join(src, 'cni-key.pem'),
    });
    expect(r.status, r.stderr).toBe(0);
    expect(filesUnder(h.conf)).toEqual(['10-tabby.conflist', 'tabby-tls/ca.crt', 'tabby-tls/tls.crt', 'tabby-tls/tls.key']);
    expect(statSync(path.join(h.conf, 'tabby-tls/tls.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(path.join(h.conf, 'tabby-tls/tls.key'), 'utf8')).toBe('cni-key.pem contents\n');
    expect(pluginView(conflistOf(h.conf)).tabby.tls).toEqual({ ca: '/etc/cni/net.d/tabby-tls/ca.crt', cert: '/etc/cni/net.d/tabby-tls/tls.crt', key: '/etc/cni/net.d/tabby-tls/tls.key' });
    // The default: --conf-dir without the /host the init container mounts it under.
    expect(install(BUNDLE, ['--tls-cert', 'x']).stderr).toContain('--tls-cert and --tls-key go together');
  });

  it('a template (CNI_NETWORK_CONFIG, as Calico) with the placeholders filled in and other plugins kept', () => {
    const h = host();
    const template = JSON.stringify({
      cniVersion: '1.0.0',
      name: '__CNI_NETWORK_NAME__',
      plugins: [
        { type: 'tabby-cni', nodename: '__KUBERNETES_NODE_NAME__', mtu: '__CNI_MTU__', log_level: '__LOG_LEVEL__', log_file_path: '__LOG_FILE_PATH__', tabby: { store: '__TABBY_STORE__', ipam: '__TABBY_IPAM__' }, ipam: { ipv4_pools: ['default-ipv4-ippool'] } },
        { type: 'portmap', snat: true, capabilities: { portMappings: true } },
      ],
    }).replace('"__CNI_MTU__"', '__CNI_MTU__');
    const r = install(BUNDLE, ['--skip-binary', '--conf-dir', h.conf, '--conf-name', '05-pods.conflist'], {
      CNI_NETWORK_CONFIG: template,
      KUBERNETES_NODE_NAME: 'n9',
      CNI_MTU: '9000',
      CNI_NETWORK_NAME: 'pods',
      CNI_LOG_LEVEL: 'debug',
    });
    expect(r.status, r.stderr).toBe(0);
    const list = conflistOf(h.conf, '05-pods.conflist');
    expect(list.name).toBe('pods');
    expect((list.plugins as unknown[])[1]).toEqual({ type: 'portmap', snat: true, capabilities: { portMappings: true } });
    const cfg = pluginView(list);
    expect([cfg.nodename, cfg.mtu, cfg.logLevel, cfg.ipam.ipv4Pools]).toEqual(['n9', 9000, 'debug', ['default-ipv4-ippool']]);
  });

  it('a bad template is refused with what and where, and nothing is written', () => {
    const h = host();
    const cases: [string, Record<string, string>, RegExp][] = [
      ['not JSON', { CNI_NETWORK_CONFIG: '{"cniVersion": "1.0.0",\n "name": "x",\n "plugins": [ { "type": "tabby-cni", } ] }' }, /CNI_NETWORK_CONFIG is not JSON at line 3, column \d+/],
      ['unknown placeholder', { CNI_NETWORK_CONFIG: '{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"tabby-cni","nodename":"__NODENAME__"}]}' }, /unknown placeholder __NODENAME__ at line 1, column 77/],
      ['placeholder without a value', { CNI_NETWORK_CONFIG: '{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"tabby-cni","mtu":__CNI_MTU__}]}' }, /__CNI_MTU__ at line 1, column 71 needs --mtu \(CNI_MTU\)/],
      ['no tabby-cni entry', { CNI_NETWORK_CONFIG: '{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"bridge"}]}' }, /exactly one entry of type tabby-cni \(found 0\)/],
      ['a key the plugin refuses', { CNI_NETWORK_CONFIG: '{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"portmap"},{"type":"tabby-cni","tabby":{"stor":"a:1"}}]}' }, /plugins\[1\]: .*stor/],
      ['a version the plugin does not speak', { CNI_NETWORK_CONFIG: '{"cniVersion":"9.9.9","name":"x","plugins":[{"type":"tabby-cni"}]}' }, /plugins\[0\]: cniVersion "9.9.9" is not supported/],
      ['cniVersions offering one it does not speak', { CNI_NETWORK_CONFIG: '{"cniVersion":"1.0.0","cniVersions":["1.0.0","1.2.0"],"name":"x","plugins":[{"type":"tabby-cni"}]}' }, /cniVersions\[1\] "1.2.0" is not a version tabby-cni speaks/],
    ];
    for (const [what, env, message] of cases) {
      const r = install(BUNDLE, ['--bin-dir', h.bin, '--conf-dir', h.conf], { ...env, KUBERNETES_NODE_NAME: 'n1' });
      expect(r.status, what).toBe(2);
      expect(r.stderr, what).toMatch(message);
      expect(filesUnder(h.root), what).toEqual([]);
    }
    const missing = install(BUNDLE, ['--template', path.join(dir.path, 'nope.json')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('nope.json: ENOENT');
  });

  it('an unwritable binary directory: exit 2 naming it, and no conflist (a runtime must never see the network without its plugin)', () => {
    const h = host();
    mkdirSync(path.dirname(h.bin), { recursive: true });
    writeFileSync(h.bin, 'a file where the directory should be');
    const r = install(BUNDLE, ['--bin-dir', h.bin, '--conf-dir', h.conf]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`cannot create the CNI binary directory ${h.bin}`);
    expect(existsSync(path.join(h.conf, '10-tabby.conflist'))).toBe(false);
  });

  it('bad values name the option and its variable', () => {
    expect(install(BUNDLE, [], { CNI_MTU: '20' }).stderr).toContain('--mtu "20" (or CNI_MTU): an integer 68-65535');
    expect(install(BUNDLE, ['--store', 'nohost']).stderr).toContain('--store "nohost" (or TABBY_STORE): expected HOST:PORT');
    expect(install(BUNDLE, ['--conf-name', 'tabby.txt']).stderr).toContain('--conf-name "tabby.txt"');
    expect(install(BUNDLE, [], { CNI_ASSIGN_IPV6: 'maybe' }).stderr).toContain('CNI_ASSIGN_IPV6="maybe": expected true or false');
  });
});
