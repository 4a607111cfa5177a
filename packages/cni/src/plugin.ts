/**
 * The CNI commands (spec 1.1.0): ADD, DEL, CHECK, VERSION, and GC and STATUS (gc.ts,
 * status.ts), over injected parts (the control plane, the data plane, the environment), so the
 * logic is tested without root or services. `runPlugin` never throws: every failure becomes
 * the specification's error JSON.
 */
import { statSync } from 'node:fs';
import { checkNamespace, isNamespaceGuardError, underTest } from '@tabby/dataplane';
import type { WorkloadAddResponse } from '@tabby/proto';
import type { Logger } from '@tabby/runtime';
import { canonicalHostCidr } from './addresses.js';
import { checkProblems } from './check.js';
import { CniCode, CniError, errorJson, isCniError } from './cni-error.js';
import { IP_ADDRS_ANNOTATION, parseNetworkConfig, versionOf, type NetworkConfig } from './config.js';
import { parseCommand, parseEnvironment, type CniEnvironment } from './env.js';
import { collectGarbage } from './gc.js';
import { nodeName, workloadIdentity, type WorkloadIdentity } from './identity.js';
import { addResult, parsePrevResult, type CniResult } from './result.js';
import { pluginStatus } from './status.js';
import { outcomeUnknown, type TabbyApi } from './tabby-api.js';
import { CURRENT_VERSION, SUPPORTED_VERSIONS, supportsCheck, supportsGcAndStatus } from './versions.js';
import type { Wiring, WiringSpec } from './wiring.js';

/** What the plugin works with; `main` passes the real ones, tests fakes. */
export interface PluginDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readStdin: () => Promise<string>;
  readonly hostname: () => string;
  /** The logger for a call: per the config's log_level/log_file_path, or the default before the config is read. */
  readonly logger: (config: NetworkConfig | undefined) => Logger;
  readonly api: (config: NetworkConfig) => TabbyApi;
  readonly wiring: (logger: Logger) => Wiring;
}

/** What the process prints on stdout and its exit status. */
export interface PluginOutput {
  readonly stdout: string;
  readonly exitCode: number;
}

/** The VERSION answer. */
export function versionInfo(): { cniVersion: string; supportedVersions: string[] } {
  return { cniVersion: CURRENT_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}

const MACHINE_NET = '/proc/1/ns/net';
/** The kernel's initial network namespace's inode on Linux 6.18+ (see @tabby/dataplane's guard). */
const INIT_NET_INODE = 0xeffffff9;

/**
 * Under a test (VITEST or TABBY_NETNS_GUARD set), refuses to wire anything in this machine's
 * own network namespace: neither the host side (this process's namespace, checked by
 * @tabby/dataplane's guard) nor the container side may be it.
 */
export function guardNamespaces(env: Readonly<Record<string, string | undefined>>, netns: string): void {
  if (!underTest(env)) return;
  try {
    checkNamespace({ env });
  } catch (err) {
    if (isNamespaceGuardError(err)) throw new CniError(CniCode.NamespaceGuard, err.message, 'run the plugin under `ip netns exec NAME` or `nsenter --net=PATH` in a namespace the test made');
    throw err;
  }
  if (netns === '') return;
  let target: number;
  try {
    target = statSync(netns).ino;
  } catch {
    return; // no such namespace: nothing of the machine's can be touched through it
  }
  let machine: number | undefined;
  try {
    machine = statSync(MACHINE_NET).ino;
  } catch {
    machine = undefined; // PID 1's namespace may be unreadable in a sandbox; the kernel's fixed number still applies
  }
  if (target === machine || target === INIT_NET_INODE) {
    throw new CniError(CniCode.NamespaceGuard, `refusing to wire a container in this machine's own network namespace under a test: CNI_NETNS ${netns} is it`);
  }
}

function wiringSpec(env: CniEnvironment, id: WorkloadIdentity, config: NetworkConfig, addresses: readonly string[], hostInterface = id.hostInterface): WiringSpec {
  return {
    netns: env.netns,
    ifname: env.ifname,
    hostInterface,
    containerMac: id.mac,
    addresses,
    mtu: config.mtu,
    routeTable: config.tabby.routeTable,
    routeProtocol: config.tabby.routeProtocol,
  };
}

function asDataplaneError(err: unknown): CniError {
  if (isCniError(err)) return err;
  return new CniError(CniCode.DataplaneFailure, err instanceof Error ? err.message : String(err));
}

/** The IPAM release for this call's workload. */
function deleteRequest(id: WorkloadIdentity): { namespace: string; name: string; handle: string; containerId: string; endpoint: string } {
  return { namespace: id.namespace, name: id.name, handle: id.handle, containerId: id.containerId, endpoint: id.endpoint };
}

async function add(env: CniEnvironment, config: NetworkConfig, id: WorkloadIdentity, api: TabbyApi, wiring: Wiring, logger: Logger): Promise<CniResult> {
  // Nothing is asked of IPAM before the container is known to exist and its interface name is free.
  if (!wiring.netnsExists(env.netns)) throw new CniError(CniCode.UnknownContainer, `the container's network namespace ${env.netns} does not exist`);
  const existing = await wiring.inspectContainer(env.netns, env.ifname);
  if (existing.exists && existing.mac !== id.mac) {
    throw new CniError(CniCode.InterfaceTaken, `interface ${env.ifname} already exists in ${env.netns} and is not tabby-cni's (MAC ${existing.mac ?? 'unknown'})`, 'another plugin made it; give tabby-cni another CNI_IFNAME');
  }
  // Fixed addresses (Calico's ipAddrs annotation, or CNI_ARGS IP=) are assigned as given; the pools are then not used.
  if (env.args.ip !== undefined && config.ipam.ipAddrs.length > 0) {
    throw new CniError(CniCode.InvalidEnvironment, `CNI_ARGS IP=${env.args.ip} and the ${IP_ADDRS_ANNOTATION} annotation cannot both be given`);
  }
  const ipAddrs = env.args.ip !== undefined ? [env.args.ip] : [...config.ipam.ipAddrs];
  let added: WorkloadAddResponse;
  try {
    added = await api.workloadAdd({
      namespace: id.namespace,
      name: id.name,
      node: id.node,
      labels: {},
      numIpv4: config.ipam.assignIpv4 ? 1 : 0,
      numIpv6: config.ipam.assignIpv6 ? 1 : 0,
      ipv4Pools: [...config.ipam.ipv4Pools],
      ipv6Pools: [...config.ipam.ipv6Pools],
      handle: id.handle,
      containerId: id.containerId,
      endpoint: id.endpoint,
      orchestrator: id.orchestrator,
      mac: id.mac,
      ipAddrs,
      namespaceLabels: { ...config.ipam.namespaceLabels },
    });
  } catch (err) {
    // No answer: IPAM may have assigned and written the endpoint. Give it back now if it can be.
    if (outcomeUnknown(err)) {
      await api.workloadDelete(deleteRequest(id)).catch((e: unknown) => logger.warn({ err: e instanceof Error ? e.message : String(e), handle: id.handle }, 'cannot release after an ADD with no answer; DEL or `tabbyctl ipam check --repair` will'));
    }
    throw err;
  }
  const addresses = added.ipNetworks.map(canonicalHostCidr);
  logger.info({ handle: id.handle, addresses, endpoint: added.endpointName, existing: added.existing, pools: config.ipam.ipv4Pools, poolSource: config.ipam.ipv4PoolSource, fixed: ipAddrs.length > 0 ? ipAddrs : undefined }, 'addresses assigned');
  const host = added.interfaceName || id.hostInterface;
  const spec = wiringSpec(env, id, config, addresses, host);
  try {
    await wiring.setUp(spec, existing.exists);
  } catch (err) {
    const failure = asDataplaneError(err);
    // Half way: remove the interface and give the addresses and the endpoint back.
    const undo: string[] = [];
    await wiring.tearDown(env.netns, env.ifname, id.mac, host).catch((e: unknown) => undo.push(`removing the interfaces failed: ${e instanceof Error ? e.message : String(e)}`));
    await api.workloadDelete(deleteRequest(id)).catch((e: unknown) => undo.push(`releasing the addresses failed: ${e instanceof Error ? e.message : String(e)}`));
    logger.error({ err: failure.message, undo }, 'ADD failed half way; undone');
    throw undo.length === 0 ? failure : new CniError(failure.cniCode, failure.message, [failure.details, ...undo].filter((x) => x !== '').join('; '));
  }
  logger.info({ hostInterface: host, addresses }, 'container wired');
  return addResult(config.cniVersion, { hostInterface: host, containerInterface: env.ifname, containerMac: id.mac, sandbox: env.netns, addresses, mtu: config.mtu }, config.dns);
}

async function del(env: CniEnvironment, id: WorkloadIdentity, api: TabbyApi, wiring: Wiring, logger: Logger): Promise<void> {
  // The interface first: its namespace may be gone already (then so is the veth pair).
  const { removed } = await wiring.tearDown(env.netns, env.ifname, id.mac);
  const r = await api.workloadDelete(deleteRequest(id));
  logger.info({ handle: id.handle, interfaceRemoved: removed, released: r.released, endpointFound: r.found }, 'workload deleted');
}

async function check(env: CniEnvironment, config: NetworkConfig, id: WorkloadIdentity, api: TabbyApi, wiring: Wiring): Promise<void> {
  if (!supportsCheck(config.cniVersion)) throw new CniError(CniCode.IncompatibleVersion, `config version ${config.cniVersion} does not allow CHECK (0.4.0 and later do)`);
  const prev = parsePrevResult(config.prevResult);
  const hostIf = prev.interfaces.find((i) => i.sandbox === undefined)?.name ?? id.hostInterface;
  const spec = wiringSpec(env, id, config, prev.addresses.map(canonicalHostCidr), hostIf);
  const [seen, allocations, endpoint] = await Promise.all([
    wiring.observe(spec),
    Promise.all(spec.addresses.map(async (a) => [a.replace(/\/\d+$/, ''), await api.getAllocation(a.replace(/\/\d+$/, ''))] as const)),
    api.getEndpoint(id.namespace, id.endpointName),
  ]);
  const problems = checkProblems({ ...id, hostInterface: hostIf }, prev, seen, { allocations: new Map(allocations), endpoint }, env.netns, config.tabby.routeTable);
  if (problems.length > 0) {
    const shown = problems.slice(0, 3).join('; ');
    throw new CniError(CniCode.CheckFailed, `CHECK failed: ${shown}${problems.length > 3 ? `; and ${problems.length - 3} more` : ''}`, problems.join('\n'));
  }
}

/** Runs one CNI call. */
export async function runPlugin(deps: PluginDeps): Promise<PluginOutput> {
  let version: string = CURRENT_VERSION;
  let logger = deps.logger(undefined);
  try {
    const command = parseCommand(deps.env);
    if (command === 'VERSION') return { stdout: `${JSON.stringify(versionInfo())}\n`, exitCode: 0 };
    let stdin: string;
    try {
      stdin = await deps.readStdin();
    } catch (err) {
      throw new CniError(CniCode.IoFailure, `cannot read the network config from stdin: ${err instanceof Error ? err.message : String(err)}`);
    }
    version = versionOf(stdin);
    const env = parseEnvironment(deps.env);
    const config = parseNetworkConfig(stdin);
    version = config.cniVersion;
    logger = deps.logger(config).child({ command, containerId: env.containerId || undefined, ifname: env.ifname || undefined, netns: env.netns || undefined, network: config.name });
    if (env.args.ignored.length > 0) logger.debug({ ignored: env.args.ignored }, 'CNI_ARGS keys ignored (IgnoreUnknown)');
    if (command === 'GC' || command === 'STATUS') {
      if (!supportsGcAndStatus(config.cniVersion)) throw new CniError(CniCode.IncompatibleVersion, `config version ${config.cniVersion} does not allow ${command} (1.1.0 and later do)`);
      guardNamespaces(deps.env, '');
      const node = nodeName(config, deps.hostname());
      const started = performance.now();
      const api = deps.api(config);
      try {
        if (command === 'GC') await collectGarbage(config, node, api, deps.wiring(logger), logger);
        else await pluginStatus(config, node, api);
      } finally {
        api.close();
      }
      logger.info({ ms: Math.round(performance.now() - started), node }, `${command} done`);
      return { stdout: '', exitCode: 0 };
    }
    guardNamespaces(deps.env, env.netns);
    const id = workloadIdentity(env, config, deps.hostname());
    const started = performance.now();
    const api = deps.api(config);
    try {
      const wiring = deps.wiring(logger);
      let stdout = '';
      if (command === 'ADD') stdout = `${JSON.stringify(await add(env, config, id, api, wiring, logger))}\n`;
      else if (command === 'DEL') await del(env, id, api, wiring, logger);
      else await check(env, config, id, api, wiring);
      logger.info({ ms: Math.round(performance.now() - started), node: id.node, workload: `${id.namespace}/${id.name}` }, `${command} done`);
      return { stdout, exitCode: 0 };
    } finally {
      api.close();
    }
  } catch (err) {
    const json = errorJson(err, version);
    logger.error({ code: json.code, error: json.msg, details: json.details }, 'CNI call failed');
    return { stdout: `${JSON.stringify(json)}\n`, exitCode: 1 };
  }
}
