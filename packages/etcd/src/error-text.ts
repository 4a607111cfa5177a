/**
 * What went wrong talking to etcd, in one short line an operator can act on. grpc-js words a
 * failed dial as `14 UNAVAILABLE: No connection established. Last error: Error: connect
 * ECONNREFUSED 127.0.0.1:2379. Resolution note: `; that becomes `connection refused
 * (127.0.0.1:2379)`. Other messages lose their grpc-js code prefix and nothing else.
 */
export function etcdErrorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const refused = /ECONNREFUSED (\S+?)\.?(?:\s|$)/.exec(text);
  if (refused) return `connection refused (${refused[1]})`;
  return text
    .replace(/^\d+ [A-Z_]+: /, '')
    .replace(/^No connection established\. Last error: /, '')
    .replace(/^\w*Error: /, '')
    .replace(/\.? ?Resolution note: ?$/, '')
    .trim();
}
