/**
 * The `tabby-cni` executable (bundled into dist/tabby-cni): reads the CNI environment and
 * the network config, runs the command, prints the result or error JSON on stdout and
 * exits. Logs are pino JSON on stderr, or in `log_file_path`; never on stdout.
 */
import { writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { createLogger, type Logger } from '@tabby/runtime';
import { destination } from 'pino';
import { DEFAULT_LOG_LEVEL, type NetworkConfig } from './config.js';
import { LinuxWiring } from './linux-wiring.js';
import { runPlugin } from './plugin.js';
import { GrpcTabbyApi } from './tabby-api.js';

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.once('error', reject);
  });
}

function makeLogger(config: NetworkConfig | undefined): Logger {
  const file = config?.logFilePath;
  let dest;
  try {
    dest = file ? destination({ dest: file, sync: true, mkdir: true, append: true }) : destination({ dest: 2, sync: true });
  } catch {
    dest = destination({ dest: 2, sync: true }); // an unwritable log file must not fail the call: stderr instead
  }
  return createLogger({ service: 'tabby-cni', level: config?.logLevel ?? DEFAULT_LOG_LEVEL, destination: dest });
}

const USAGE = `Usage: tabby-cni  (a CNI plugin: a container runtime runs it)

The runtime sets CNI_COMMAND (ADD, DEL, CHECK, VERSION), CNI_CONTAINERID, CNI_NETNS,
CNI_IFNAME, CNI_ARGS and CNI_PATH, and writes the network config JSON on stdin; the result or
the error JSON comes on stdout. By hand:

  echo '{"cniVersion":"1.0.0","name":"k8s-pod-network","type":"tabby-cni"}' | CNI_COMMAND=VERSION tabby-cni

Network config keys, error codes and an example conflist: packages/cni/README.md.
`;

async function main(): Promise<void> {
  // Called by hand without a CNI command: help, not a CNI error.
  if (process.env.CNI_COMMAND === undefined && process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    writeSync(1, USAGE);
    process.exit(0);
  }
  const out = await runPlugin({
    env: process.env,
    readStdin,
    hostname,
    logger: makeLogger,
    api: (config) => new GrpcTabbyApi(config.tabby),
    wiring: (logger) => new LinuxWiring(process.env.PATH, logger),
  });
  if (out.stdout !== '') writeSync(1, out.stdout);
  process.exit(out.exitCode);
}

main().catch((err: unknown) => {
  // runPlugin answers every failure itself; this is a bug's last word, still as CNI JSON.
  writeSync(1, `${JSON.stringify({ cniVersion: '1.0.0', code: 100, msg: `internal error: ${err instanceof Error ? err.message : String(err)}` })}\n`);
  process.exit(1);
});
