import { describe, expect, it } from 'vitest';
import { metaOf, mustFindKind, parseManifest } from '@tabby/api';
import { decodeValue, encodeValue, guardKey, parseKey, prefixEnd, resourceKey } from '../src/etcd-layout.js';
import { WALKTHROUGH, one } from './fixtures.js';

const NODE_STATUS = `apiVersion: projectcalico.org/v3
kind: NodeStatus
metadata: {name: node1, uid: 0f2b7c1e-5d8a-4c1e-9d53-1f0e8b8f9a11, creationTimestamp: "2026-01-02T03:04:05Z", labels: {b: "2", a: "1"}}
spec: {node: node1}
status:
  bgp:
    numberEstablishedV4: 1
    peersV4: [{peerIP: 172.17.8.102, type: node-to-node mesh, state: Established, since: "09:15:02"}]
`;

const RESERVATION = `apiVersion: projectcalico.org/v3
kind: IPReservation
metadata: {name: gateways}
spec: {reservedCIDRs: [10.0.0.1, 10.0.1.7/24, "fd00::1"]}
`;

const IPAM_CONFIG = `apiVersion: projectcalico.org/v3
kind: IPAMConfiguration
metadata: {name: default}
spec: {strictAffinity: true, maxBlocksPerHost: 0, autoAllocateBlocks: false}
`;

const WEP = `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata: {name: node1-k8s-nginx-eth0, namespace: shop, finalizers: [example.com/x]}
spec: {node: node1, orchestrator: k8s, pod: nginx, endpoint: eth0, interfaceName: cali0ef24b1a1d1, ipNetworks: [10.48.0.5/32], ports: [{name: http, protocol: TCP, port: 80}]}
`;

describe('Calico etcd keys', () => {
  it.each([
    ['IPPool', '', 'default-ipv4-ippool', '/calico/resources/v3/projectcalico.org/ippools/default-ipv4-ippool'],
    ['BGPConfiguration', '', 'default', '/calico/resources/v3/projectcalico.org/bgpconfigurations/default'],
    ['NodeStatus', '', 'node1', '/calico/resources/v3/projectcalico.org/caliconodestatuses/node1'],
    ['IPReservation', '', 'gateways', '/calico/resources/v3/projectcalico.org/ipreservations/gateways'],
    ['IPAMConfiguration', '', 'default', '/calico/resources/v3/projectcalico.org/ipamconfigurations/default'],
    ['WorkloadEndpoint', 'shop', 'n-k8s-p-eth0', '/calico/resources/v3/projectcalico.org/workloadendpoints/shop/n-k8s-p-eth0'],
  ])('%s %s/%s is at %s, and the key says what it holds', (kind, namespace, name, key) => {
    const k = mustFindKind(kind);
    expect(resourceKey(k, namespace, name)).toBe(key);
    expect(parseKey(key)).toEqual({ kind: k, namespace, name });
  });

  it('knows no key outside the resource tree, of another kind, or of the wrong depth; guards live outside it', () => {
    expect(parseKey('/calico/ipam/v2/handle/x')).toBeUndefined();
    expect(parseKey('/calico/resources/v3/projectcalico.org/felixconfigurations/default')).toBeUndefined();
    expect(parseKey('/calico/resources/v3/projectcalico.org/workloadendpoints/no-namespace')).toBeUndefined();
    expect(guardKey(mustFindKind('IPPool'))).toBe('/tabby/store/v1/guards/ippools');
    expect(prefixEnd(Buffer.from('/a/')).toString()).toBe('/a0');
  });
});

describe('values', () => {
  it.each([...Object.entries(WALKTHROUGH), ['NodeStatus', NODE_STATUS], ['WorkloadEndpoint', WEP], ['IPReservation', RESERVATION], ['IPAMConfiguration', IPAM_CONFIG]])('%s: the stored JSON reads back as the strict manifest decoder reads it', (_name, text) => {
    const r = one(text);
    metaOf(r).resourceVersion = '99';
    const value = encodeValue(r);
    const json = JSON.parse(value) as { kind: string; metadata: Record<string, unknown> };
    expect(json.metadata.resourceVersion).toBeUndefined();
    const back = decodeValue(resourceKey(mustFindKind(json.kind), metaOf(r).namespace, metaOf(r).name), value, 42);
    const strict = parseManifest(value).resources[0].resource;
    metaOf(strict).resourceVersion = '42';
    expect(back).toEqual(strict);
  });

  it('reads a value written by someone else (other key order), and names the key of one it cannot read', () => {
    const key = '/calico/resources/v3/projectcalico.org/ippools/p';
    const theirs = '{"kind":"IPPool","apiVersion":"projectcalico.org/v3","spec":{"cidr":"10.9.0.0/16","blockSize":26},"metadata":{"name":"p","creationTimestamp":"2026-01-02T03:04:05Z"}}';
    const r = decodeValue(key, theirs, 7);
    expect(metaOf(r)).toMatchObject({ name: 'p', resourceVersion: '7', creationTimestamp: '2026-01-02T03:04:05.000Z' });
    expect(() => decodeValue(key, '{"apiVersion":"projectcalico.org/v3","kind":"IPPool","metadata":{"name":"p"},"spec":{"cidr":"10.9.0.0/16","natOutgoin":true}}', 7)).toThrow(
      /^etcd key \/calico\/resources\/v3\/projectcalico.org\/ippools\/p does not hold a valid IPPool: document 1, line 1, column \d+: spec.natOutgoin: unknown field "natOutgoin"/,
    );
    expect(() => decodeValue(key, '{"apiVersion":"projectcalico.org/v3","kind":"IPPool","metadata":{"name":"q"},"spec":{}}', 7)).toThrow(
      'etcd key /calico/resources/v3/projectcalico.org/ippools/p holds IPPool q, not the object its key names',
    );
  });
});
