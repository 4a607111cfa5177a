import type { ObjectMeta } from '@tabby/proto';
import type { KindInfo } from '../kinds.js';
import { labelValueProblems, nameProblems, qualifiedNameProblems } from '../names.js';
import type { Problems } from './problems.js';

const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** Metadata rules common to every kind (Calico's validateObjectMeta and client checks). */
export function validateMeta(p: Problems, kind: KindInfo, meta: ObjectMeta, op: 'create' | 'update' | 'validate'): void {
  if (meta.generateName !== '') {
    p.add('Metadata.Name', 'metadata.generateName', undefined, 'field must be set for a Create request (GenerateName is not supported)');
  } else if (meta.name === '') {
    p.add('Metadata.Name', 'metadata.name', undefined, op === 'create' ? 'field must be set for a Create request' : 'field must be set');
  } else {
    for (const reason of nameProblems(meta.name)) p.add('Metadata.Name', 'metadata.name', meta.name, reason);
  }
  if (kind.namespaced) {
    if (meta.namespace === '') p.add('Metadata.Namespace', 'metadata.namespace', undefined, 'namespace is not specified on namespaced resource');
    else for (const reason of nameProblems(meta.namespace)) p.add('Metadata.Namespace', 'metadata.namespace', meta.namespace, reason);
  } else if (meta.namespace !== '') {
    p.add('Metadata.Namespace', 'metadata.namespace', meta.namespace, `namespace should not be specified for a non-namespaced resource. ${kind.kind} is not a namespaced resource`);
  }
  for (const [k, v] of Object.entries(meta.labels)) {
    for (const reason of qualifiedNameProblems(k)) p.add('Metadata.Labels (label)', `metadata.labels.${k}`, k, reason);
    for (const reason of labelValueProblems(v)) p.add('Metadata.Labels (value)', `metadata.labels.${k}`, v, reason);
  }
  let size = 0;
  for (const [k, v] of Object.entries(meta.annotations)) {
    for (const reason of qualifiedNameProblems(k)) p.add('Metadata.Annotations (key)', `metadata.annotations.${k}`, k, reason);
    size += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  const seen = new Set<string>();
  meta.finalizers.forEach((f, i) => {
    for (const reason of qualifiedNameProblems(f)) p.add('Metadata.Finalizers', `metadata.finalizers[${i}]`, f, reason);
    if (seen.has(f)) p.add('Metadata.Finalizers', `metadata.finalizers[${i}]`, f, 'duplicate finalizer');
    seen.add(f);
  });
  if (size > MAX_ANNOTATIONS_BYTES) p.add('Metadata.Annotations', 'metadata.annotations', undefined, `total size of annotations is too large by ${size - MAX_ANNOTATIONS_BYTES} bytes`);
}
