import { parseSelector } from '@tabby/selector';
import type { FieldError } from '../errors.js';
import { isDNSSubdomain, parseDuration } from '../names.js';
import { parseCIDR, parseIP, parseIPOrCIDR, type IPFamily } from '../net.js';

/** Collects field errors for one resource. */
export class Problems {
  readonly list: FieldError[] = [];

  add(field: string, path: string, value: string | number | boolean | undefined, reason: string): void {
    this.list.push({ field, path, value: value === undefined ? undefined : String(value), reason });
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  /** A Calico selector; reports the parser's message and column. */
  selector(field: string, path: string, text: string, opts: { noGlobal?: string } = {}): void {
    if (text === '') return;
    const r = parseSelector(text);
    if (!r.ok) {
      this.add(field, path, text, `invalid selector: ${r.error.format()}`);
      return;
    }
    if (opts.noGlobal && /(^|[^A-Za-z0-9_./-])global\(/.test(text)) this.add(field, path, text, opts.noGlobal);
  }

  /** A DNS-1123 subdomain name (node names, pod names, ...). */
  dnsName(field: string, path: string, text: string): void {
    if (text !== '' && !isDNSSubdomain(text))
      this.add(field, path, text, "must be a lower case DNS name: alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character");
  }

  oneOf(field: string, path: string, text: string, allowed: readonly string[]): void {
    if (text !== '' && !allowed.includes(text)) this.add(field, path, text, `must be one of ${allowed.join(', ')}`);
  }

  ip(field: string, path: string, text: string, family?: IPFamily): void {
    if (text === '') return;
    const ip = parseIP(text);
    if (!ip) this.add(field, path, text, `must be an ${family ? `IPv${family} ` : 'IP '}address`);
    else if (family && ip.family !== family) this.add(field, path, text, `must be an IPv${family} address`);
  }

  /** An address with an optional prefix length (`10.0.0.5` or `10.0.0.5/24`), host bits allowed. */
  ipWithOptionalPrefix(field: string, path: string, text: string, family: IPFamily): void {
    if (text === '') return;
    const c = parseIPOrCIDR(text);
    if (!c || c.family !== family) this.add(field, path, text, `must be an IPv${family} address, optionally with a prefix length (e.g. ${family === 4 ? '10.0.0.5/24' : 'fd00::5/64'})`);
  }

  /** A strictly masked CIDR or a single IP. */
  cidrOrIP(field: string, path: string, text: string): void {
    if (text === '') return;
    if (parseIP(text)) return;
    const c = parseCIDR(text);
    if (!c) this.add(field, path, text, 'must be an IP address or a CIDR');
    else if (!c.strictlyMasked) this.add(field, path, text, `CIDR has host bits set; did you mean ${c.canonical}?`);
  }

  duration(field: string, path: string, text: string): void {
    if (text !== '' && parseDuration(text) === undefined) this.add(field, path, text, 'must be a duration such as 120s, 1m30s or 2h');
  }

  interfaceName(field: string, path: string, text: string): void {
    if (!/^[a-zA-Z0-9_.*-]{1,15}$/.test(text) || text === '*')
      this.add(field, path, text, "must be 1-15 characters of letters, digits, '_', '.', '-' or '*' (and not just '*')");
  }

  secretRef(field: string, path: string, ref: { secretKeyRef?: { name: string; key: string } | undefined } | undefined): void {
    if (!ref) return;
    if (!ref.secretKeyRef) {
      this.add(`${field}.SecretKeyRef`, `${path}.secretKeyRef`, undefined, 'must be set');
      return;
    }
    if (ref.secretKeyRef.name === '') this.add(`${field}.SecretKeyRef.Name`, `${path}.secretKeyRef.name`, undefined, 'must be set');
    if (ref.secretKeyRef.key === '') this.add(`${field}.SecretKeyRef.Key`, `${path}.secretKeyRef.key`, undefined, 'must be set');
  }
}
