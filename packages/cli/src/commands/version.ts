import { readFileSync } from 'node:fs';
import type { CommandContext } from '../context.js';
import { CliError, isCliError } from '../errors.js';

/** Version of tabbyctl. */
export const CLI_VERSION = '0.1.0';

function buildCommit(): string {
  try {
    const info = JSON.parse(readFileSync(new URL('../build-info.json', import.meta.url), 'utf8')) as { commit?: string };
    return info.commit ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `version [--client]`: the client's version and commit, then the store's version and cluster type. */
export async function versionCommand(opts: { client?: boolean }, ctx: CommandContext): Promise<number> {
  ctx.io.stdout(`Client Version:    v${CLI_VERSION}\n`);
  ctx.io.stdout(`Git commit:        ${buildCommit()}\n`);
  if (opts.client) return 0;
  try {
    const info = await ctx.store().info();
    ctx.io.stdout(`Cluster Version:   v${info.version}\n`);
    ctx.io.stdout(`Cluster Type:      ${info.clusterType}\n`);
    return 0;
  } catch (err) {
    if (isCliError(err)) throw new CliError(`Unable to detect installed Tabby version: ${err.message}`);
    throw err;
  }
}
