import { parseManifest } from '@tabby/api';
import type { Resource } from '@tabby/proto';
import { walkthroughManifest } from '@tabby/harness';

/** Parses a manifest that must be valid and returns its resources. */
export function manifest(text: string): Resource[] {
  const r = parseManifest(text);
  if (r.errors.length > 0) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.resources.map((x) => x.resource);
}

/** The single resource of a manifest. */
export function one(text: string): Resource {
  const [r] = manifest(text);
  return r;
}

/** The walkthrough manifests the store tests create, exactly as the walkthrough writes them. */
export const WALKTHROUGH = {
  bgpConfigDefault: walkthroughManifest('1. global AS'),
  globalPeer: walkthroughManifest('2. global BGP peer'),
  nodePeer: walkthroughManifest('3. node-specific BGP peer'),
  rrNode: walkthroughManifest('5. route reflector node'),
  peerToRRs: walkthroughManifest('5. peer-to-rrs'),
  rrMesh: walkthroughManifest('5. rr-mesh'),
  defaultPool: walkthroughManifest('6. the default pool'),
  newPool: walkthroughManifest('6. new-pool'),
} as const;

/** pool.yaml of the walkthrough: the List of both pools, the old one disabled. */
export const POOL_LIST_DISABLING_OLD = walkthroughManifest('6. pool.yaml');

export function pool(name: string, cidr: string, extra = ''): Resource {
  return one(`apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: ${name}
spec:
  cidr: ${cidr}
${extra}`);
}

export function peer(name: string, peerIP: string, asNumber: number, labels: Record<string, string> = {}): Resource {
  const labelText = Object.entries(labels)
    .map(([k, v]) => `    ${k}: "${v}"\n`)
    .join('');
  return one(`apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: ${name}
${labelText ? `  labels:\n${labelText}` : ''}spec:
  peerIP: ${peerIP}
  asNumber: ${asNumber}
`);
}
