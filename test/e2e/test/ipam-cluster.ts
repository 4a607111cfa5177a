/**
 * A Tabby control plane for the IPAM tests: nats-server, tabby-store (refusing to delete
 * pools in use: --ipam) and tabby-ipam (following the store), all on 127.0.0.1, stopped
 * by PID through the test's ProcessGroup. Plus the masks that keep goldens independent of
 * the addresses IPAM happens to assign.
 */
import { IpamClient, resolveConfig } from '@tabby/cli';
import { eventually, freePort, startNats, startService, type ProcessGroup, type ServiceProcess } from '@tabby/harness';

export interface IpamCluster {
  readonly store: ServiceProcess;
  readonly ipam: ServiceProcess;
  /** TABBY_STORE_ADDR and TABBY_IPAM_ADDR for tabbyctl. */
  readonly env: Record<string, string>;
  /** Resolves once tabby-ipam sees the pool (optionally: disabled or enabled, as asked). */
  waitForPool(name: string, disabled?: boolean): Promise<void>;
  close(): void;
}

export async function startIpamCluster(group: ProcessGroup, dir: string, ipamArgs: readonly string[] = []): Promise<IpamCluster> {
  const nats = await startNats(group, dir);
  const ipamPort = await freePort('127.0.0.1');
  const store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir}/store`, '--nats', nats.url]);
  const ipam = await startService(group, 'ipam', [
    '--listen',
    `127.0.0.1:${ipamPort}`,
    '--data-dir',
    `${dir}/ipam`,
    '--store',
    store.address,
    '--nats',
    nats.url,
    '--metrics',
    '127.0.0.1:0',
    '--recovery-interval',
    '1',
    ...ipamArgs,
  ]);
  const env = { TABBY_STORE_ADDR: store.address, TABBY_IPAM_ADDR: ipam.address };
  // tabbyctl's own client, to wait for what IPAM has seen (its view follows the store).
  const client = new IpamClient(resolveConfig({ store: store.address, ipam: ipam.address }, { HOME: dir }));
  return {
    store,
    ipam,
    env,
    waitForPool: async (name, disabled) => {
      await eventually(
        `tabby-ipam to see IP pool ${name}${disabled === undefined ? '' : disabled ? ' disabled' : ' enabled'}`,
        async () => (await client.utilization(false)).pools.some((p) => p.name === name && (disabled === undefined || p.disabled === disabled)),
        10_000,
      );
    },
    close: () => client.close(),
  };
}

/**
 * Replaces each address of the given /16 prefixes (`192.168`, `10.0`) by a placeholder
 * numbered in order of first appearance (`192.168.<ip1>`), the same address always by the
 * same placeholder, so a golden shows which addresses are equal without fixing their
 * values. Blocks become `10.0.<block>/26`, unnumbered: their order in a table depends on
 * their values. Output that held one also gets its column padding and rules squeezed, as
 * the table widths depend on the address lengths.
 */
export function addressMask(prefixes: readonly string[]): (text: string) => string {
  const names = new Map<string, string>();
  let ips = 0;
  const escaped = prefixes.map((p) => p.replace(/\./g, '\\.')).join('|');
  const re = new RegExp(`\\b(${escaped})\\.(\\d{1,3}\\.\\d{1,3})(/(\\d+))?\\b`, 'g');
  return (text) => {
    let masked = false;
    const out = text.replace(re, (all: string, prefix: string, host: string, slash: string | undefined, len: string | undefined) => {
      if (host === '0.0' && len !== undefined && Number(len) <= 16) return all; // the pool itself
      masked = true;
      if (len === '26') return `${prefix}.<block>/26`;
      const key = `${prefix}.${host}`;
      let name = names.get(key);
      if (name === undefined) {
        name = `<ip${++ips}>`;
        names.set(key, name);
      }
      return `${prefix}.${name}${slash ?? ''}`;
    });
    return masked ? squeeze(out) : out;
  };
}

/**
 * Table padding and rules at a fixed width: runs of 2+ spaces after a line's indentation
 * become 3 (indentation stays, so YAML keeps its shape), `+----+` rules become `+---+`.
 */
export function squeeze(text: string): string {
  return text
    .split('\n')
    .map((l) => {
      if (/^\+[-+]+\+$/.test(l)) return l.replace(/-+/g, '---');
      const indent = /^ */.exec(l)?.[0] ?? '';
      return indent + l.slice(indent.length).replace(/ {2,}/g, '   ');
    })
    .join('\n');
}
