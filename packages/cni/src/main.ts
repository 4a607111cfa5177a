/**
 * The `tabby-cni` executable (bundled into dist/tabby-cni): reads the CNI environment and
 * the network config, runs the command, prints the result or error JSON on stdout and
 * exits. Logs are pino JSON on stderr, or in `log_file_path`; never on stdout.
 */
import { existsSync, realpathSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { isSea } from 'node:sea';
import { createLogger, type Logger } from '@tabby/runtime';
import { destination } from 'pino';
import { DEFAULT_LOG_LEVEL, type NetworkConfig } from './config.js';
import { INSTALL_USAGE, InstallError, install, parseInstallOptions } from './install.js';
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
       tabby-cni install [options]  (copies it and a conflist into the node's CNI directories)

The runtime sets CNI_COMMAND (ADD, DEL, CHECK, GC, STATUS, VERSION), CNI_CONTAINERID, CNI_NETNS,
CNI_IFNAME, CNI_ARGS and CNI_PATH, and writes the network config JSON on stdin; the result or
the error JSON comes on stdout. By hand:

  echo '{"cniVersion":"1.0.0","name":"k8s-pod-network","type":"tabby-cni"}' | CNI_COMMAND=VERSION tabby-cni

Network config keys, error codes and an example conflist: packages/cni/README.md.
`;

/**
 * The executable `install` copies: this process when it is the single executable, else the one
 * the build made beside the bundle (dist/sea/tabby-cni; the bin wrapper lives in bin/).
 */
function installSource(explicit: string | undefined): string | undefined {
  if (explicit !== undefined) return explicit;
  if (isSea()) return process.execPath;
  const script = process.argv[1];
  if (script === undefined) return undefined;
  const dir = path.dirname(realpathSync(script));
  return [path.join(dir, 'sea', 'tabby-cni'), path.join(dir, '..', 'dist', 'sea', 'tabby-cni')].find((f) => existsSync(f));
}

async function runInstall(args: readonly string[]): Promise<never> {
  const logger = createLogger({ service: 'tabby-cni-install', level: 'info', destination: destination({ dest: 1, sync: true }) });
  try {
    const options = parseInstallOptions(args, process.env);
    if (options === 'help') {
      writeSync(1, INSTALL_USAGE);
      process.exit(0);
    }
    const source = options.skipBinary ? undefined : installSource(options.source);
    if (!options.skipBinary && source === undefined) {
      throw new InstallError('the single executable dist/sea/tabby-cni was not built (npm run build makes it); give --source FILE or --skip-binary');
    }
    await install(options, source, logger);
    process.exit(0);
  } catch (err) {
    const known = err instanceof InstallError;
    logger.error({ err: known ? undefined : err }, known ? err.message : `install failed: ${err instanceof Error ? err.message : String(err)}`);
    writeSync(2, `tabby-cni install: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(known ? 2 : 1);
  }
}

async function main(): Promise<void> {
  if (process.env.CNI_COMMAND === undefined && process.argv[2] === 'install') await runInstall(process.argv.slice(3));
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
