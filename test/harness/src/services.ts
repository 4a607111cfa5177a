import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessGroup, TestProcess } from './processes.js';

/** Root of the repository (the harness lives in test/harness/dist). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The services the harness starts: the gRPC services, and tabby-ui (HTTP). */
export type TabbyService = 'store' | 'ipam' | 'topology' | 'agent' | 'ui';

/** Path of a service's built entry point, e.g. `services/store/dist/main.js`. */
export function serviceBin(service: TabbyService): string {
  return path.join(REPO_ROOT, 'services', service, 'dist', 'main.js');
}

/** A Tabby service process started for a test. */
export interface ServiceProcess {
  readonly process: TestProcess;
  /** The bound address, `127.0.0.1:PORT` (gRPC; for tabby-ui its HTTP listener). */
  readonly address: string;
  readonly port: number;
  /** tabby-ui only: the URL it printed, `http(s)://127.0.0.1:PORT/`. */
  readonly url?: string;
}

/**
 * Starts a built Tabby service binary with the given flags (use `--listen 127.0.0.1:0`
 * for a free port) and waits for its "gRPC listening" log line to learn the address
 * (tabby-ui: its "tabby-ui listening" line with the URL).
 */
export async function startService(
  group: ProcessGroup,
  service: TabbyService,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; logFile?: string } = {},
): Promise<ServiceProcess> {
  // TABBY_PROFILE_DIR=DIR: every service started here writes a V8 CPU profile into DIR on exit.
  const profile = process.env.TABBY_PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.TABBY_PROFILE_DIR] : [];
  const proc = group.start(`tabby-${service}`, process.execPath, [...profile, serviceBin(service), ...args], {
    env: { ...process.env, ...opts.env },
    logFile: opts.logFile,
  });
  if (service === 'ui') {
    const u = await proc.waitForLine(/"url":"(https?:\/\/([^"]+?)\/)".*"msg":"tabby-ui listening"|"msg":"tabby-ui listening".*"url":"(https?:\/\/([^"]+?)\/)"/, 20_000);
    const url = u[1] ?? u[3];
    const address = u[2] ?? u[4];
    return { process: proc, address, port: Number(address.slice(address.lastIndexOf(':') + 1)), url };
  }
  const m = await proc.waitForLine(/"msg":"gRPC listening".*"address":"([^"]+)"|"address":"([^"]+)".*"msg":"gRPC listening"/, 20_000);
  const address = m[1] ?? m[2];
  return { process: proc, address, port: Number(address.slice(address.lastIndexOf(':') + 1)) };
}
