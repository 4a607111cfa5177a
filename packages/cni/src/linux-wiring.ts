/**
 * {@link Wiring} on Linux through iproute2, the way @tabby/dataplane programs routes: `ip
 * -batch` for the host side (this process's network namespace, the node's), and `nsenter
 * --net=CNI_NETNS ip -batch` for the container side. Host sysctls are written to
 * /proc/sys/net directly (those files belong to the opening process's namespace). A call
 * runs 4-5 short processes.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { batchLine, parseBatchErrors } from '@tabby/dataplane';
import { canonicalIp } from './addresses.js';
import { CniCode, CniError } from './cni-error.js';
import { parseLinkKinds, planHostSweep, type HostSweepPlan } from './host-sweep.js';
import { GATEWAY_V4, GATEWAY_V6, HOST_MAC } from './result.js';
import { hostSysctls, type ContainerInterface, type ObservedLink, type ObservedRoute, type Observation, type Wiring, type WiringSpec } from './wiring.js';

/** statfs f_type of a network namespace file (`NSFS_MAGIC`). */
const NSFS_MAGIC = 0x6e736673;
/** Where tools are looked for after PATH (runtimes may exec plugins with a short PATH). */
const FALLBACK_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Logs what it runs (debug) and what failed (warn). */
export interface WiringLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Finds `name` in PATH, then in the usual system directories. */
export function findTool(name: string, envPath: string | undefined): string {
  for (const dir of [...(envPath ?? '').split(':').filter((d) => d !== ''), ...FALLBACK_DIRS]) {
    const p = path.join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not in this directory: look in the next
    }
  }
  throw new CniError(CniCode.DataplaneFailure, `cannot find the \`${name}\` program in PATH or ${FALLBACK_DIRS.join(', ')}`, name === 'ip' ? 'install iproute2' : 'install util-linux');
}

const dataplane = (msg: string, details = ''): CniError => new CniError(CniCode.DataplaneFailure, msg, details);

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function jsonArray(text: string): unknown[] {
  const t = text.trim();
  if (t === '') return [];
  const v = JSON.parse(t) as unknown;
  return Array.isArray(v) ? v : [];
}

/** Links with their addresses from `ip -j addr show`. */
export function parseAddrShow(text: string): ObservedLink[] {
  return jsonArray(text).flatMap((item): ObservedLink[] => {
    if (typeof item !== 'object' || item === null) return [];
    const j = item as { ifname?: unknown; address?: unknown; flags?: unknown; addr_info?: unknown };
    const name = str(j.ifname);
    if (name === undefined) return [];
    const addresses = Array.isArray(j.addr_info)
      ? (j.addr_info as { local?: unknown; prefixlen?: unknown; scope?: unknown }[]).flatMap((a) => {
          const local = str(a.local);
          return local !== undefined && typeof a.prefixlen === 'number' && a.scope !== 'link' ? [`${canonicalIp(local)}/${a.prefixlen}`] : [];
        })
      : [];
    return [{ name, mac: str(j.address) ?? '', up: Array.isArray(j.flags) && j.flags.includes('UP'), addresses }];
  });
}

/** Routes from `ip -j [-6] route show`, destinations as CIDRs. */
export function parseRouteShow(text: string, family: 4 | 6): ObservedRoute[] {
  return jsonArray(text).flatMap((item): ObservedRoute[] => {
    if (typeof item !== 'object' || item === null) return [];
    const j = item as { dst?: unknown; gateway?: unknown; dev?: unknown; scope?: unknown };
    const rawDst = str(j.dst);
    if (rawDst === undefined) return [];
    let dst = rawDst === 'default' ? (family === 4 ? '0.0.0.0/0' : '::/0') : rawDst;
    if (!dst.includes('/')) dst = `${dst}/${family === 4 ? 32 : 128}`;
    const [addr, len] = dst.split('/');
    const route: { dst: string; gateway?: string; dev?: string; scope?: string } = { dst: `${canonicalIp(addr)}/${len}` };
    const gw = str(j.gateway);
    if (gw !== undefined) route.gateway = canonicalIp(gw);
    const dev = str(j.dev);
    if (dev !== undefined) route.dev = dev;
    const scope = str(j.scope);
    if (scope !== undefined) route.scope = scope;
    return [route];
  });
}

/** The Linux {@link Wiring}. */
export class LinuxWiring implements Wiring {
  private readonly ipBin: string;
  private nsenterBin: string | undefined;

  constructor(
    private readonly envPath: string | undefined,
    private readonly logger: WiringLogger,
  ) {
    this.ipBin = findTool('ip', envPath);
  }

  private nsenter(): string {
    this.nsenterBin ??= findTool('nsenter', this.envPath);
    return this.nsenterBin;
  }

  private run(argv: readonly string[], input?: string): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0], argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout?.on('data', (b: Buffer) => out.push(b));
      child.stderr?.on('data', (b: Buffer) => err.push(b));
      child.once('error', (e) => reject(dataplane(`cannot run ${argv[0]}: ${e.message}`)));
      child.once('close', (code) => {
        const r = { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
        this.logger.debug({ argv, input, code, stderr: r.stderr.trim() || undefined }, 'ran');
        resolve(r);
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  /** `ip ARGS` in the container's namespace. */
  private inContainer(netns: string, args: readonly string[], input?: string): Promise<RunResult> {
    return this.run([this.nsenter(), `--net=${netns}`, this.ipBin, ...args], input);
  }

  private onHost(args: readonly string[], input?: string): Promise<RunResult> {
    return this.run([this.ipBin, ...args], input);
  }

  netnsExists(p: string): boolean {
    try {
      return statfsSync(p).type === NSFS_MAGIC;
    } catch {
      return false;
    }
  }

  async inspectContainer(netns: string, ifname: string): Promise<ContainerInterface> {
    const r = await this.inContainer(netns, ['-j', 'link', 'show', 'dev', ifname]);
    if (r.code !== 0) {
      if (/does not exist|Cannot find device/.test(r.stderr)) return { exists: false };
      throw dataplane(`cannot look at ${ifname} in ${netns}: ${r.stderr.trim() || `exit ${String(r.code)}`}`);
    }
    const link = parseAddrShow(r.stdout)[0];
    return link ? { exists: true, mac: link.mac } : { exists: false };
  }

  async setUp(spec: WiringSpec, replaceContainerInterface: boolean): Promise<void> {
    const { netns, ifname, hostInterface: host } = spec;
    const v4 = spec.addresses.filter((a) => !a.includes(':'));
    const v6 = spec.addresses.filter((a) => a.includes(':'));
    const mtu = spec.mtu === undefined ? [] : ['mtu', String(spec.mtu)];

    // An interface of ours from an earlier ADD of this container goes first (with its host side).
    if (replaceContainerInterface) {
      const del = await this.inContainer(netns, ['link', 'del', ifname]);
      if (del.code !== 0 && !/Cannot find device|does not exist/.test(del.stderr)) throw dataplane(`cannot remove the old ${ifname} in ${netns}: ${del.stderr.trim()}`);
    }

    // 1. The veth pair, its peer created right in the container's namespace; a host side left
    // by an earlier container of this workload is replaced (as Calico does). Then the host
    // side up, its routes (the agent's table and protocol: its reconcile adopts them instead
    // of fighting them) and, for IPv6, the proxy neighbour for the gateway. With IPv6 the
    // sysctls (accept_dad off) must come before the link is up, so that part waits for them;
    // IPv4 alone needs one `ip -batch`.
    const create = [
      ['link', 'del', host],
      ['link', 'add', host, ...mtu, 'address', HOST_MAC, 'type', 'veth', 'peer', 'name', ifname, ...mtu, 'address', spec.containerMac, 'netns', netns],
    ];
    const upAndRoute = [
      ['link', 'set', host, 'up'],
      ...spec.addresses.map((a) => batchLine('add', { prefix: a, type: 'unicast', nextHops: [{ dev: host }] }, spec.routeTable, spec.routeProtocol).split(' ')),
      ...(v6.length > 0 ? [['neigh', 'replace', 'proxy', GATEWAY_V6, 'dev', host]] : []),
    ];
    const oneBatch = v6.length === 0;
    const first = oneBatch ? [...create, ...upAndRoute] : create;
    const made = await this.onHost(['-force', '-batch', '-'], lines(first));
    const madeErrors = parseBatchErrors(made.stderr);
    const addError = madeErrors.byLine.get(2);
    if (addError !== undefined || madeErrors.unattributed !== '') {
      throw dataplane(`cannot create the veth pair ${host} / ${ifname}: ${addError ?? madeErrors.unattributed}`);
    }
    const delError = madeErrors.byLine.get(1);
    if (delError === undefined) this.logger.warn({ interface: host }, 'replaced a host interface left by an earlier container of this workload');
    else if (!/Cannot find device/.test(delError)) throw dataplane(`cannot remove the old ${host}: ${delError}`);

    // 2. Host sysctls.
    for (const [key, value] of Object.entries(hostSysctls(host, v4.length > 0, v6.length > 0))) {
      const file = `/proc/sys/${key.replace(/\./g, '/')}`;
      try {
        writeFileSync(file, value);
      } catch (err) {
        throw dataplane(`cannot set ${key}=${value}: ${err instanceof Error ? err.message : String(err)}`, v6.length > 0 && key.includes('ipv6') ? 'IPv6 may be disabled on this node' : '');
      }
    }

    // 3. The container side: up, addresses, the link route to the gateway and the defaults.
    const container = [
      ['link', 'set', ifname, 'up'],
      ...v4.map((a) => ['addr', 'add', a, 'dev', ifname]),
      ...v6.map((a) => ['addr', 'add', a, 'dev', ifname, 'nodad']),
      // The gateways' MAC is known (the host side's): permanent neighbour entries spare the
      // first packet an ARP/NDP round trip and keep the container working on a node without a
      // default route, where proxy ARP has nothing to answer for 169.254.1.1.
      ...(v4.length > 0
        ? [
            ['neigh', 'replace', GATEWAY_V4, 'lladdr', HOST_MAC, 'dev', ifname, 'nud', 'permanent'],
            ['route', 'add', GATEWAY_V4, 'dev', ifname, 'scope', 'link'],
            ['route', 'add', 'default', 'via', GATEWAY_V4, 'dev', ifname],
          ]
        : []),
      ...(v6.length > 0
        ? [
            ['neigh', 'replace', GATEWAY_V6, 'lladdr', HOST_MAC, 'dev', ifname, 'nud', 'permanent'],
            ['route', 'add', '::/0', 'via', GATEWAY_V6, 'dev', ifname],
          ]
        : []),
    ];
    const inside = await this.inContainer(netns, ['-batch', '-'], lines(container));
    if (inside.code !== 0) throw dataplane(`cannot configure ${ifname} in ${netns}: ${oneLine(inside.stderr)}`);

    // 4. The host side's routes: in the first batch (IPv4) or now (IPv6).
    if (oneBatch) {
      await this.checkRouteLines(madeErrors.byLine, create.length, spec);
    } else {
      const up = await this.onHost(['-force', '-batch', '-'], lines(upAndRoute));
      const upErrors = parseBatchErrors(up.stderr);
      if (upErrors.unattributed !== '') throw dataplane(`cannot configure ${host}: ${upErrors.unattributed}`);
      await this.checkRouteLines(upErrors.byLine, 0, spec);
    }
  }

  /**
   * Goes through the errors of the batch lines from `offset + 1` on (link up, one route per
   * address, the proxy neighbour): a route the kernel refuses because the prefix is taken is
   * fine when the route there is ours (same interface); any other error is the failure.
   */
  private async checkRouteLines(byLine: ReadonlyMap<number, string>, offset: number, spec: WiringSpec): Promise<void> {
    const host = spec.hostInterface;
    for (const [line, error] of byLine) {
      if (line <= offset) continue;
      const index = line - offset - 2;
      const address = index >= 0 && index < spec.addresses.length ? spec.addresses[index] : undefined;
      if (address !== undefined && /File exists/.test(error)) {
        const have = await this.hostRoutes(address, spec.routeTable);
        if (have.some((r) => r.dev === host && r.gateway === undefined)) continue;
        const other = have.map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.dev ? ` dev ${r.dev}` : ''}`).join(', ');
        throw dataplane(`route ${address} already exists in table ${spec.routeTable} for another interface (${other || 'unknown'}), not ${host}`, 'another workload or program holds this address on the node; run `tabbyctl ipam check`');
      }
      const what = line - offset === 1 ? `link set ${host} up` : address !== undefined ? `route ${address} dev ${host}` : `proxy neighbour ${GATEWAY_V6} on ${host}`;
      throw dataplane(`cannot configure ${host}: ${what}: ${error}`);
    }
  }

  private async hostRoutes(address: string, table: number): Promise<ObservedRoute[]> {
    const family = address.includes(':') ? 6 : 4;
    const r = await this.onHost([`-${family}`, '-j', 'route', 'show', 'table', String(table), address]);
    return r.code === 0 ? parseRouteShow(r.stdout, family) : [];
  }

  async tearDown(netns: string, ifname: string, mac: string, hostInterface?: string): Promise<{ readonly removed: boolean }> {
    let removed = false;
    if (netns !== '' && this.netnsExists(netns)) {
      const c = await this.inspectContainer(netns, ifname);
      if (c.exists && c.mac === mac) {
        const del = await this.inContainer(netns, ['link', 'del', ifname]);
        if (del.code !== 0 && !/Cannot find device|does not exist/.test(del.stderr)) throw dataplane(`cannot remove ${ifname} in ${netns}: ${del.stderr.trim()}`);
        removed = del.code === 0;
      } else if (c.exists) {
        this.logger.warn({ netns, interface: ifname, mac: c.mac }, 'the container interface is not tabby-cni\'s (another MAC): left alone');
      }
    }
    if (hostInterface !== undefined) {
      const del = await this.onHost(['link', 'del', hostInterface]);
      if (del.code === 0) removed = true;
      else if (!/Cannot find device|does not exist/.test(del.stderr)) throw dataplane(`cannot remove ${hostInterface}: ${del.stderr.trim()}`);
    }
    return { removed };
  }

  async removeStaleHostInterfaces(addresses: readonly string[], routeTable: number, routeProtocol: number): Promise<HostSweepPlan> {
    if (addresses.length === 0) return { remove: [], kept: [] };
    const table = String(routeTable);
    const [links, all4, all6, our4, our6] = await Promise.all([
      this.onHost(['-j', '-d', 'link', 'show', 'type', 'veth']),
      this.onHost(['-4', '-j', 'route', 'show', 'table', table]),
      this.onHost(['-6', '-j', 'route', 'show', 'table', table]),
      this.onHost(['-4', '-j', 'route', 'show', 'table', table, 'proto', String(routeProtocol)]),
      this.onHost(['-6', '-j', 'route', 'show', 'table', table, 'proto', String(routeProtocol)]),
    ]);
    const routes = (r: RunResult, family: 4 | 6, what: string) => {
      if (r.code === 0) return parseRouteShow(r.stdout, family);
      if (family === 6 && familyMissing(r)) return [];
      throw dataplane(`cannot list ${what}: ${oneLine(r.stderr)}`);
    };
    if (links.code !== 0) throw dataplane(`cannot list the node's veth interfaces: ${oneLine(links.stderr)}`);
    const plan = planHostSweep({
      addresses,
      links: parseLinkKinds(links.stdout),
      tableRoutes: [...routes(all4, 4, `the IPv4 routes of table ${table}`), ...routes(all6, 6, `the IPv6 routes of table ${table}`)],
      ourRoutes: [...routes(our4, 4, `the IPv4 routes of table ${table}`), ...routes(our6, 6, `the IPv6 routes of table ${table}`)],
    });
    for (const k of plan.kept) this.logger.warn({ interface: k.name, reason: k.reason }, 'GC: a host interface routes a released address but is left alone');
    if (plan.remove.length === 0) return plan;
    const r = await this.onHost(['-force', '-batch', '-'], lines(plan.remove.map((x) => ['link', 'del', 'dev', x.name])));
    const errors = parseBatchErrors(r.stderr);
    const removed: { name: string; addresses: readonly string[] }[] = [];
    const kept = [...plan.kept];
    plan.remove.forEach((x, i) => {
      const error = errors.byLine.get(i + 1);
      // Gone meanwhile (its namespace was deleted): nothing left to remove.
      if (error === undefined || /Cannot find device/.test(error)) removed.push(x);
      else kept.push({ name: x.name, reason: `removing it failed: ${error}` });
    });
    if (errors.unattributed !== '') throw dataplane(`cannot remove ${plan.remove.map((x) => x.name).join(', ')}: ${errors.unattributed}`);
    return { remove: removed, kept };
  }

  async observe(spec: WiringSpec): Promise<Observation> {
    const { netns, ifname, hostInterface: host } = spec;
    const netnsExists = this.netnsExists(netns);
    let containerLink: ObservedLink | undefined;
    const containerRoutes: ObservedRoute[] = [];
    if (netnsExists) {
      const [addr, r4, r6] = await Promise.all([
        this.inContainer(netns, ['-j', 'addr', 'show', 'dev', ifname]),
        this.inContainer(netns, ['-4', '-j', 'route', 'show']),
        this.inContainer(netns, ['-6', '-j', 'route', 'show']),
      ]);
      if (addr.code === 0) containerLink = parseAddrShow(addr.stdout)[0];
      if (r4.code === 0) containerRoutes.push(...parseRouteShow(r4.stdout, 4));
      if (r6.code === 0) containerRoutes.push(...parseRouteShow(r6.stdout, 6));
    }
    const [haddr, h4, h6, neigh] = await Promise.all([
      this.onHost(['-j', 'addr', 'show', 'dev', host]),
      this.onHost(['-4', '-j', 'route', 'show', 'table', String(spec.routeTable), 'dev', host]),
      this.onHost(['-6', '-j', 'route', 'show', 'table', String(spec.routeTable), 'dev', host]),
      this.onHost(['-6', '-j', 'neigh', 'show', 'proxy', 'dev', host]),
    ]);
    const hostLink = haddr.code === 0 ? parseAddrShow(haddr.stdout)[0] : undefined;
    const hostRoutes = [...(h4.code === 0 ? parseRouteShow(h4.stdout, 4) : []), ...(h6.code === 0 ? parseRouteShow(h6.stdout, 6) : [])].map((r) => ({ ...r, dev: r.dev ?? host }));
    const sysctls: Record<string, string | undefined> = {};
    const v4 = spec.addresses.some((a) => !a.includes(':'));
    const v6 = spec.addresses.some((a) => a.includes(':'));
    for (const key of Object.keys(hostSysctls(host, v4, v6))) {
      try {
        sysctls[key] = readFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8').trim();
      } catch {
        sysctls[key] = undefined;
      }
    }
    const proxyNeighbours = neigh.code === 0 ? jsonArray(neigh.stdout).flatMap((n) => (typeof n === 'object' && n !== null && typeof (n as { dst?: unknown }).dst === 'string' ? [canonicalIp((n as { dst: string }).dst)] : [])) : [];
    return {
      container: { netnsExists, ...(containerLink ? { link: containerLink } : {}), routes: containerRoutes },
      host: { ...(hostLink ? { link: hostLink } : {}), routes: hostRoutes, sysctls, proxyNeighbours },
    };
  }
}

/** A listing that failed only because the kernel has no IPv6 (booted with ipv6.disable=1): nothing to list. */
function familyMissing(r: RunResult): boolean {
  return /Address family not supported/i.test(r.stderr);
}

function lines(commands: readonly (readonly string[])[]): string {
  return `${commands.map((c) => c.join(' ')).join('\n')}\n`;
}

function oneLine(text: string): string {
  return text.trim().split('\n').join('; ') || 'no message';
}
