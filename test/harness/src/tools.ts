import { accessSync, constants } from 'node:fs';
import path from 'node:path';

const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

/** Absolute path of an installed program (PATH plus the sbin directories Debian uses), or undefined. */
export function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...EXTRA_DIRS];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Like {@link findTool} but throws with the command that installs it. */
export function requireTool(name: string, debianPackage = name): string {
  const p = findTool(name);
  if (!p) throw new Error(`${name} is not installed; install it with: apt-get install -y ${debianPackage} (npm test does this itself when run as root)`);
  return p;
}
