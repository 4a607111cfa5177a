/**
 * The WorkloadEndpoint the store benches write (bench/store-etcd, bench/store-vs-etcd): one as
 * Kubernetes pods give them, and distinct copies of it.
 */
import { cloneResource, metaOf, parseManifest } from '@tabby/api';
import type { Resource } from '@tabby/proto';

/** A WorkloadEndpoint as Kubernetes pods give them: Calico's labels, profiles, a port. */
export const WEP = `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: node7-k8s-web--7d9f8c6b5d--x2kq4-eth0
  namespace: shop
  labels:
    app: web
    pod-template-hash: 7d9f8c6b5d
    projectcalico.org/namespace: shop
    projectcalico.org/orchestrator: k8s
    projectcalico.org/serviceaccount: default
spec:
  node: node7
  orchestrator: k8s
  pod: web-7d9f8c6b5d-x2kq4
  endpoint: eth0
  containerID: 3f5a1c0e9b7d4a2f8c6e1b0d9a7f5c3e2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e
  interfaceName: cali0ef24b1a1d1
  mac: 0a:58:0a:30:00:05
  ipNetworks: [10.48.0.5/32]
  profiles: [kns.shop, ksa.shop.default]
  serviceAccountName: default
  ports:
  - name: http
    port: 8080
    protocol: TCP
`;

export function template(): Resource {
  const r = parseManifest(WEP);
  if (r.errors.length > 0 || !r.resources[0]) throw new Error(r.errors[0]?.message ?? 'empty manifest');
  return r.resources[0].resource;
}

export function endpoint(base: Resource, id: string): Resource {
  const r = cloneResource(base);
  metaOf(r).name = `node7-k8s-web--${id}-eth0`;
  if (r.kind?.$case === 'workloadEndpoint' && r.kind.value.spec) r.kind.value.spec.pod = `web-${id}`;
  return r;
}
