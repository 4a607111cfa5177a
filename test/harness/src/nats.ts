import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { eventually, type ProcessGroup, type TestProcess } from './processes.js';
import { requireTool } from './tools.js';

/** A nats-server started for a test, on 127.0.0.1 and a port of its own choosing. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly process: TestProcess;
}

/**
 * Starts `nats-server` on 127.0.0.1 with a random free port (`-p -1`), reading the port
 * from its ports file. `port` reuses a port (to restart a server on the same address);
 * `config` is a nats-server configuration file (authorization, tls) read as well.
 */
export async function startNats(group: ProcessGroup, dir: string, opts: { port?: number; config?: string } = {}): Promise<NatsServer> {
  const bin = requireTool('nats-server');
  const args = [
    ...(opts.config ? ['-c', opts.config] : []),
    '-a',
    '127.0.0.1',
    '-p',
    String(opts.port ?? -1),
    '--ports_file_dir',
    dir,
    '-l',
    path.join(dir, `nats-${Date.now()}.log`),
  ];
  const proc = group.start('nats-server', bin, args);
  const file = path.join(dir, `nats-server_${proc.pid}.ports`);
  const ports = await eventually(
    'the nats-server ports file',
    () => {
      if (!existsSync(file)) return undefined;
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { nats?: string[] };
      return parsed.nats?.[0];
    },
    10_000,
    20,
  );
  const url = ports.replace('nats://0.0.0.0', 'nats://127.0.0.1');
  const port = Number(new URL(url).port);
  return { url, port, process: proc };
}

/** Removes leftover ports files of a directory (they are per PID). */
export function natsPortsFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('nats-server_') && f.endsWith('.ports'));
}
