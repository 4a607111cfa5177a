/**
 * deploy/Dockerfile. No Docker engine runs here and no registry serves images, so the image is
 * built by a stand-in (dockerfile.ts): every stage's COPY and RUN for real, from the build
 * context as .dockerignore filters it, with npm working from the local cache only. What can
 * only happen inside the image's own operating system (apt-get, creating the user) is listed
 * and checked, not run. Then the result is used as the image would be: every program from
 * PATH, no development dependency left, tabby-store serving from the pruned tree.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessGroup, REPO_ROOT, eventually, tempDir } from '@tabby/harness';
import { build, gitCommit, parseDockerfile, words, type BuildResult } from './dockerfile.js';
import { betterSqlitePrebuild } from './prebuilt.js';
import { stopCommands } from './run-command.js';

const DOCKERFILE = path.join(REPO_ROOT, 'deploy/Dockerfile');
const df = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
const BINS = ['tabby-store', 'tabby-ipam', 'tabby-topology', 'tabby-agent', 'tabby-ui', 'tabbyctl', 'tabby-cni'];
/** What only the image's own OS can do; everything else in a RUN runs here. */
const IMAGE_ONLY = /^(apt-get (update|install)\b|npm install -g npm@[\d.]+$|rm -rf \/var\/lib\/apt\/lists\/\*$|groupadd |useradd |mkdir -p \/var\/lib\/tabby$|chown tabby:tabby \/var\/lib\/tabby$)/;

describe('deploy/Dockerfile as written', () => {
  it('is multi-stage, every stage on Node 20 / Debian bookworm slim', () => {
    expect(df.stages.map((s) => s.name)).toEqual(['prune', 'build', 'runtime']);
    expect(df.globalArgs.NODE_IMAGE).toBe('node:20-bookworm-slim');
    for (const s of df.stages) expect(s.from, s.name).toBe('${NODE_IMAGE}');
  });

  it('prunes with turbo prune --docker, installs the lockfile exactly, keeps production dependencies only', () => {
    const runs = (stage: string): string => df.stages.find((s) => s.name === stage)!.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    // turbo as the lockfile pins it, from the root's own devDependencies (no registry lookup by name).
    expect(runs('prune')).toMatch(/npm ci --ignore-scripts .*--workspaces=false --include-workspace-root/);
    expect(runs('prune')).toMatch(/npx --no-install turbo prune\s+@tabby\/cli @tabby\/store @tabby\/ipam @tabby\/topology @tabby\/agent @tabby\/ui @tabby\/cni --docker/);
    // The build uses the npm that package.json's packageManager names, not the base image's.
    const pm = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { packageManager: string }).packageManager;
    expect(runs('build')).toContain(`npm install -g ${pm}`);
    expect(runs('build')).toMatch(/npm ci /);
    expect(runs('build')).toMatch(/npm prune --omit=dev/);
  });

  it('runs as an unprivileged user, with a HEALTHCHECK through gRPC health', () => {
    const runtime = df.stages[df.stages.length - 1].instructions;
    expect(runtime.find((i) => i.op === 'USER')?.args).toBe('10001:10001');
    const hc = runtime.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
    expect(hc).toMatch(/CMD \["sh", "-c", "exec tabbyctl health /);
  });
});

describe('deploy/Dockerfile built by the stand-in', () => {
  const dir = tempDir('tabby-image-');
  const group = new ProcessGroup();
  const commit = gitCommit(REPO_ROOT);
  let result: BuildResult;
  let app: string;
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, ...result.env, HOME: dir.path, TABBY_CONFIG: '' });

  beforeAll(async () => {
    result = await build(df, {
      contextDir: REPO_ROOT,
      workRoot: path.join(dir.path, 'stages'),
      buildArgs: { TABBY_GIT_COMMIT: commit },
      imageOnly: IMAGE_ONLY,
      // npm from the local cache only (npm ci filled it), better-sqlite3's binary from a local
      // prebuild (prebuilt.ts) rather than downloaded: this test sends nothing off the machine.
      env: { ...process.env, ...betterSqlitePrebuild(path.join(dir.path, 'prebuilds')), npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', TURBO_TELEMETRY_DISABLED: '1' },
    });
    app = path.join(result.roots.runtime, 'opt/tabby');
  }, 900_000);

  afterAll(async () => {
    stopCommands();
    await group.stopAll();
    dir.remove();
  }, 60_000);

  it('left out only the OS setup of the image', () => {
    expect(result.skipped).toEqual([
      'apt-get update',
      'apt-get install -y --no-install-recommends python3 make g++',
      'rm -rf /var/lib/apt/lists/*',
      'npm install -g npm@11.19.1',
      'apt-get update',
      'apt-get install -y --no-install-recommends iproute2',
      'rm -rf /var/lib/apt/lists/*',
      'groupadd --system --gid 10001 tabby',
      'useradd --system --uid 10001 --gid tabby --home-dir /var/lib/tabby --shell /usr/sbin/nologin tabby',
      'mkdir -p /var/lib/tabby',
      'chown tabby:tabby /var/lib/tabby',
    ]);
  });

  it('has every program on PATH, and tabbyctl knows the commit it was built from', () => {
    for (const b of BINS) {
      const r = spawnSync(b, ['--help'], { env: env(), encoding: 'utf8' });
      expect(r.status, `${b} --help: ${r.stderr}`).toBe(0);
    }
    const v = spawnSync('tabbyctl', ['version', '--client'], { env: env(), encoding: 'utf8' });
    expect(v.stdout).toBe(`Client Version:    v0.1.0\nGit commit:        ${commit}\n`);
    expect(words(JSON.stringify(result.cmd))).toEqual(['tabbyctl', '--help']);
  });

  it('holds production dependencies only, and no sources, tests or build leftovers', () => {
    const nm = path.join(app, 'node_modules');
    for (const dev of ['typescript', 'vitest', 'turbo', 'eslint', '@bufbuild/buf', 'ts-proto', 'madge', 'kubernetes-models', 'esbuild', 'postject']) {
      expect(existsSync(path.join(nm, dev)), `${dev} must not be in the image`).toBe(false);
    }
    // What the programs import at run time resolves inside the image (hoisted or nested).
    for (const [pkg, dep] of [['packages/runtime', '@grpc/grpc-js'], ['services/store', 'better-sqlite3'], ['packages/runtime', 'pino'], ['packages/runtime', 'nats'], ['packages/api', 'yaml'], ['packages/cli', 'commander']]) {
      expect(createRequire(path.join(app, pkg, 'package.json')).resolve(dep).startsWith(app), `${pkg} -> ${dep}`).toBe(true);
    }
    expect(readdirSync(path.join(app, 'packages')).sort()).toEqual(['api', 'bgp', 'cli', 'client', 'cni', 'dataplane', 'etcd', 'proto', 'runtime', 'selector']);
    expect(existsSync(path.join(app, 'bench'))).toBe(false);
    expect(existsSync(path.join(app, 'proto'))).toBe(false);
    expect(existsSync(path.join(app, 'services/store/src'))).toBe(false);
    expect(existsSync(path.join(app, 'services/store/dist/main.js'))).toBe(true);
  });

  it("installs the CNI plugin as the DaemonSet's init container does: the image's single executable, which runs on its own", () => {
    const host = path.join(dir.path, 'host');
    const r = spawnSync('tabby-cni', ['install'], {
      env: { ...env(), CNI_BIN_DIR: path.join(host, 'opt/cni/bin'), CNI_NET_DIR: path.join(host, 'etc/cni/net.d'), KUBERNETES_NODE_NAME: 'node-a', TABBY_STORE: '127.0.0.1:50051', TABBY_IPAM: '127.0.0.1:50052' },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const installed = path.join(host, 'opt/cni/bin/tabby-cni');
    expect(readFileSync(installed).equals(readFileSync(path.join(app, 'packages/cni/dist/sea/tabby-cni')))).toBe(true);
    // No node on PATH: the node's runtime runs it with whatever PATH it has.
    const v = spawnSync(installed, [], { env: { CNI_COMMAND: 'VERSION', PATH: '/usr/sbin:/sbin' }, encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ cniVersion: '1.0.0' });
    const list = JSON.parse(readFileSync(path.join(host, 'etc/cni/net.d/10-tabby.conflist'), 'utf8')) as { plugins: Record<string, unknown>[] };
    expect(list.plugins[0]).toMatchObject({ type: 'tabby-cni', nodename: 'node-a', tabby: { store: '127.0.0.1:50051', ipam: '127.0.0.1:50052' } });
  });

  it("runs tabby-store from the image's tree (its native SQLite addon included) and passes the HEALTHCHECK", async () => {
    const store = group.start('image tabby-store', 'tabby-store', ['--listen', '127.0.0.1:0', '--data-dir', path.join(dir.path, 'data')], { env: env() });
    const m = await store.waitForLine(/"msg":"gRPC listening".*"address":"([^"]+)"|"address":"([^"]+)".*"msg":"gRPC listening"/, 30_000);
    const address = m[1] ?? m[2];
    // The image's HEALTHCHECK command, with TABBY_HEALTH_ADDR pointing at this store.
    const hc = df.stages[df.stages.length - 1].instructions.find((i) => i.op === 'HEALTHCHECK')!.args;
    const cmd = JSON.parse(hc.slice(hc.indexOf('CMD ') + 4)) as string[];
    await eventually('the HEALTHCHECK to pass', () => spawnSync(cmd[0], cmd.slice(1), { env: { ...env(), TABBY_HEALTH_ADDR: address }, encoding: 'utf8' }).status === 0, 30_000, 500);
  });
});
