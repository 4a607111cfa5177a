/**
 * The labels a selector is evaluated against: a plain object (only its own
 * properties count, so `constructor` or `__proto__` are ordinary label keys)
 * or a Map.
 */
export type Labels = Readonly<Record<string, string>> | ReadonlyMap<string, string>;

/** Reads one label; `undefined` means the label is absent. */
export type LabelLookup = (key: string) => string | undefined;

function isMap(labels: Labels): labels is ReadonlyMap<string, string> {
  const candidate = labels as { readonly get?: unknown; readonly has?: unknown };
  return typeof candidate.get === 'function' && typeof candidate.has === 'function';
}

/** Makes a lookup function over either form of {@link Labels}. */
export function labelLookup(labels: Labels): LabelLookup {
  if (isMap(labels)) {
    return (key) => labels.get(key);
  }
  return (key) => (Object.hasOwn(labels, key) ? labels[key] : undefined);
}
