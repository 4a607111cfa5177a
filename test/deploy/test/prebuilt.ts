/**
 * better-sqlite3's native module for the installs these tests run (a fresh clone, the image's
 * build stage). A user's `npm install` downloads a prebuilt binary from the project's GitHub
 * releases; nothing may leave this machine here, so the binary this checkout's own `npm ci`
 * built is packed in prebuild-install's local-prebuild format and offered instead. The
 * install then runs the package's real install script (prebuild-install, which finds it
 * and unpacks it) rather than compiling SQLite again, which took over a minute per install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { REPO_ROOT } from '@tabby/harness';

/** The environment that makes better-sqlite3's install take its binary from `dir` (created there). */
export function betterSqlitePrebuild(dir: string): Record<string, string> {
  const require = createRequire(path.join(REPO_ROOT, 'package.json'));
  const pkgDir = path.dirname(require.resolve('better-sqlite3/package.json'));
  const version = (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
  const binary = 'build/Release/better_sqlite3.node';
  if (!existsSync(path.join(pkgDir, binary))) throw new Error(`${path.join(pkgDir, binary)} is missing: run npm ci first`);
  // prebuild-install's default name: <name>-v<version>-<runtime>-v<abi>-<platform><libc>-<arch>.tar.gz
  // (libc is empty on glibc; Debian is glibc).
  const tarball = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  mkdirSync(dir, { recursive: true });
  const tar = spawnSync('tar', ['-czf', path.join(dir, tarball), '-C', pkgDir, binary], { encoding: 'utf8' });
  if (tar.status !== 0) throw new Error(`cannot pack ${binary}: ${tar.stderr}`);
  return { npm_config_better_sqlite3_local_prebuilds: dir };
}
