import { parseManifest } from '@tabby/api';
import type { Resource } from '@tabby/proto';
import { TopologyCompiler, type BlockInput } from '../src/compile/compiler.js';
import type { CompiledPeer } from '../src/compile/types.js';

/** The resources of a manifest that must parse. */
export function manifest(text: string): Resource[] {
  const r = parseManifest(text);
  if (r.errors.length > 0) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.resources.map((x) => x.resource);
}

/** A Node manifest: `node('node1', '10.0.0.1', { labels, as, rr, v6 })`. */
export function node(
  name: string,
  ipv4: string,
  opts: { labels?: Record<string, string>; as?: number; rr?: string; v6?: string } = {},
): string {
  const labels = Object.entries(opts.labels ?? {});
  const bgp = [
    ipv4 ? `    ipv4Address: ${ipv4}\n` : '',
    opts.v6 ? `    ipv6Address: ${opts.v6}\n` : '',
    opts.as !== undefined ? `    asNumber: ${opts.as}\n` : '',
    opts.rr ? `    routeReflectorClusterID: ${opts.rr}\n` : '',
  ].join('');
  return `apiVersion: projectcalico.org/v3
kind: Node
metadata:
  name: ${name}
${labels.length ? `  labels:\n${labels.map(([k, v]) => `    ${k}: "${v}"\n`).join('')}` : ''}spec:
${bgp ? `  bgp:\n${bgp}` : ''}`;
}

/** `n` nodes node1..nodeN at 10.0.0.1..N (/24). */
export function nodes(n: number, opts: (i: number) => Parameters<typeof node>[2] = () => ({})): string {
  return Array.from({ length: n }, (_, i) => node(`node${i + 1}`, `10.0.0.${i + 1}/24`, opts(i + 1))).join('---\n');
}

export function bgpConfig(spec: string, name = 'default'): string {
  return `apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: ${name}
spec:
${spec
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => `  ${l}`)
  .join('\n')}
`;
}

export function bgpPeer(name: string, spec: string): string {
  return `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: ${name}
spec:
${spec
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => `  ${l}`)
  .join('\n')}
`;
}

/** A compiler fed with the documents (joined with ---) and blocks, committed. */
export function compile(docs: readonly string[], blocks: readonly BlockInput[] = []): TopologyCompiler {
  const c = new TopologyCompiler();
  for (const r of manifest(docs.join('---\n'))) c.apply(r);
  for (const b of blocks) c.setBlock(b);
  c.commit();
  return c;
}

/**
 * One line per session: `address:port type AS/remote-AS iBGP|eBGP [passive] [rr-client]
 * (source, source...)`, the form the tables of tests compare.
 */
export function describePeer(p: CompiledPeer): string {
  const flags = [p.passive ? 'passive' : '', p.rrClient ? `rr-client(${p.clusterId})` : '', p.keepOriginalNextHop ? 'keep-next-hop' : '']
    .filter((f) => f !== '')
    .join(' ');
  const sources = p.sources.map((s) => `${s.resource || 'builtin'}${s.used ? '' : '~'}`).join(', ');
  return `${p.name} ${p.address}:${p.port} ${p.localAs}>${p.remoteAs} ${p.ibgp ? 'iBGP' : 'eBGP'}${flags ? ` ${flags}` : ''} [${sources}]`;
}

/** The sessions of a node, described. */
export function sessionsOf(c: TopologyCompiler, name: string): string[] {
  return (c.config(name)?.peers ?? []).map(describePeer);
}
