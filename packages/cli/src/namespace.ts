import { metaOf, type KindInfo } from '@tabby/api';
import type { Resource } from '@tabby/proto';
import { CliError } from './errors.js';

export interface NamespaceFlags {
  readonly namespace?: string;
  readonly allNamespaces?: boolean;
}

/** Refuses -n with -A, as calicoctl does. */
export function checkNamespaceFlags(flags: NamespaceFlags): void {
  if (flags.namespace !== undefined && flags.allNamespaces) throw new CliError('cannot use both --namespace and --all-namespaces flags at the same time');
}

/** Refuses -n/-A on a cluster-scoped kind: `<Kind> is not namespaced`. */
export function checkKindScope(kind: KindInfo, flags: NamespaceFlags): void {
  if (!kind.namespaced && (flags.namespace !== undefined || flags.allNamespaces)) throw new CliError(`${kind.kind} is not namespaced`);
}

/**
 * Calico's namespace rules for a resource from a file: `-n` fills an empty namespace, a
 * namespace in the file is kept, neither means `default`, and the two must not differ.
 * Returns the error text instead of throwing so one bad document does not stop the rest.
 */
export function settleNamespace(kind: KindInfo, resource: Resource, flags: NamespaceFlags): string | undefined {
  const m = metaOf(resource);
  if (!kind.namespaced) {
    if (m.namespace !== '') return `namespace should not be specified for a non-namespaced resource. ${kind.kind} is not a namespaced resource`;
    if (flags.namespace !== undefined) return `${kind.kind} is not namespaced`;
    return undefined;
  }
  if (flags.namespace !== undefined && m.namespace !== '' && m.namespace !== flags.namespace)
    return `resource namespace does not match client namespace. ${m.namespace} != ${flags.namespace}`;
  if (m.namespace === '') m.namespace = flags.namespace ?? 'default';
  return undefined;
}
