/**
 * Per-peer import and export route policy with the semantics of Calico's BGPFilter (v3.31).
 * Pure: no sockets, no RIB. Calico compiles each BGPFilter into one BIRD function per
 * direction and family (confd `template_funcs.go`, `filterStatement`):
 *
 * | rule                              | BIRD condition                                  |
 * |-----------------------------------|-------------------------------------------------|
 * | `Equal cidr`                      | `net = cidr`                                    |
 * | `NotEqual cidr`                   | `net != cidr`                                   |
 * | `In cidr`                         | `net ~ cidr` (cidr itself or a more specific)   |
 * | `NotIn cidr`                      | `net !~ cidr`                                   |
 * | `In cidr` + `prefixLength{min,max}` | `net ~ [ cidr{max(len,min), min(32/128,max)} ]` |
 * | `source: RemotePeers`             | `defined(source) && source ~ [ RTS_BGP ]`       |
 * | `interface: "eth*"`               | `defined(ifname) && ifname ~ "eth*"`            |
 *
 * The conditions of one rule are ANDed; a rule without any is a catch-all. A filter function
 * runs its rules in order and the first match's `accept;`/`reject;` ends the whole BIRD filter;
 * when none matches the function returns and the peer's filter calls the next BGPFilter's
 * function, then (import) `accept;` or (export) `calico_export_to_bgp_peers(…); reject;`.
 * Calling several functions in turn is therefore the same as one list of their rules
 * concatenated in order, which is what {@link RoutePolicy} holds: the caller concatenates the
 * BGPFilters a BGPPeer references, in the order it lists them.
 *
 * Deliberate difference: Calico renders `Equal`/`NotEqual` with a `prefixLength` as
 * `net = [ cidr{a,b} ]`, a comparison of a prefix with a prefix set that BIRD evaluates as
 * "not equal" (different types): such an `Equal` rule never matches and such a `NotEqual` rule
 * always does. Tabby reads it as the intersection instead: `Equal` matches the cidr itself
 * when its length lies in the range (`NotEqual` is the negation). A range that is empty after
 * clamping (min above max) matches nothing (BIRD refuses such a config).
 */
import { parsePrefix, type ParsedPrefix } from '../codec/prefix.js';
import type { Family, Prefix } from '../types.js';

/** What the first matching rule does with the route. */
export type PolicyAction = 'accept' | 'reject';

/** How a rule's `cidr` is compared with the route's prefix (BGPFilter matchOperator). */
export type PolicyMatchOperator = 'Equal' | 'NotEqual' | 'In' | 'NotIn';

export const POLICY_MATCH_OPERATORS: readonly PolicyMatchOperator[] = ['Equal', 'NotEqual', 'In', 'NotIn'];

/** One BGPFilter rule (`importV4[i]`, `exportV6[i]`, …). */
export interface PolicyRule {
  readonly action: PolicyAction;
  /** A prefix of the rule's family with no host bits; needs `matchOperator`. */
  readonly cidr?: Prefix;
  readonly matchOperator?: PolicyMatchOperator;
  /** Narrows `In`/`NotIn` to more specifics of these lengths (0–32 / 0–128); needs `cidr`. */
  readonly prefixLength?: { readonly min?: number; readonly max?: number };
  /** `RemotePeers`: the route was learned from a BGP peer (not originated by this speaker). */
  readonly source?: 'RemotePeers';
  /** The route's interface, BIRD pattern syntax (`*` any run of characters, `?` one character). */
  readonly interface?: string;
}

/**
 * The rules of one direction (import or export) of a peer, per family, in evaluation order:
 * the rules of every BGPFilter the peer references, concatenated in the order it lists them.
 */
export interface RoutePolicy {
  readonly v4?: readonly PolicyRule[];
  readonly v6?: readonly PolicyRule[];
}

/** What a rule looks at. */
export interface PolicyRoute {
  /** Canonical prefix text of the route. */
  readonly prefix: Prefix;
  /** Learned from a BGP peer (true) or originated by this speaker (false). */
  readonly fromPeer: boolean;
  /** The interface of an originated route; routes from peers have none. */
  readonly interface?: string;
}

/** The rule that decided (its index in the family's list) and its action. */
export interface PolicyDecision {
  readonly action: PolicyAction;
  readonly rule: number;
}

interface CompiledRule {
  readonly action: PolicyAction;
  readonly cidr?: ParsedPrefix;
  readonly operator?: PolicyMatchOperator;
  /** Lengths `In` accepts: [lo, hi]. */
  readonly lo: number;
  readonly hi: number;
  readonly fromPeer?: true;
  readonly iface?: RegExp;
}

const compiled = new WeakMap<PolicyRule, CompiledRule>();

/** A BIRD string pattern (`*`, `?`) as an anchored regular expression. */
function patternRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** True when an interface name matches a BIRD pattern (`*` any run, `?` one character). */
export function interfaceMatches(pattern: string, name: string): boolean {
  return patternRegExp(pattern).test(name);
}

function compile(rule: PolicyRule): CompiledRule {
  let c = compiled.get(rule);
  if (c) return c;
  const cidr = rule.cidr === undefined ? undefined : parsePrefix(rule.cidr);
  const maxLen = cidr?.afi === 2 ? 128 : 32;
  const base = cidr?.length ?? 0;
  // Calico: min = max(mask, min), max = min(32|128, max) (filterMatchPrefixLength).
  const lo = Math.max(base, rule.prefixLength?.min ?? base);
  const hi = Math.min(maxLen, rule.prefixLength?.max ?? maxLen);
  c = {
    action: rule.action,
    cidr,
    operator: rule.matchOperator,
    lo,
    hi,
    ...(rule.source === 'RemotePeers' ? { fromPeer: true as const } : {}),
    ...(rule.interface !== undefined ? { iface: patternRegExp(rule.interface) } : {}),
  };
  compiled.set(rule, c);
  return c;
}

/** `route` is `cidr` or a more specific of it (BIRD `net ~ cidr`). */
function within(route: ParsedPrefix, cidr: ParsedPrefix): boolean {
  if (route.afi !== cidr.afi || route.length < cidr.length) return false;
  const full = cidr.length >> 3;
  for (let i = 0; i < full; i++) if (route.bytes[i] !== cidr.bytes[i]) return false;
  const rest = cidr.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (route.bytes[full] & mask) === cidr.bytes[full];
}

function sameNet(route: ParsedPrefix, cidr: ParsedPrefix): boolean {
  return route.length === cidr.length && within(route, cidr);
}

function cidrMatches(c: CompiledRule, route: ParsedPrefix): boolean {
  const cidr = c.cidr as ParsedPrefix;
  const ranged = c.lo <= c.hi;
  switch (c.operator) {
    case 'Equal':
      return sameNet(route, cidr) && ranged && cidr.length >= c.lo && cidr.length <= c.hi;
    case 'NotEqual':
      return !(sameNet(route, cidr) && ranged && cidr.length >= c.lo && cidr.length <= c.hi);
    case 'In':
      return ranged && within(route, cidr) && route.length >= c.lo && route.length <= c.hi;
    case 'NotIn':
      return !(ranged && within(route, cidr) && route.length >= c.lo && route.length <= c.hi);
    default:
      // Validation rejects a cidr without an operator; an unvalidated one matches nothing.
      return false;
  }
}

/** The rules of a policy for a family. */
export function policyRules(policy: RoutePolicy | undefined, family: Family): readonly PolicyRule[] {
  return (family === 'ipv4-unicast' ? policy?.v4 : policy?.v6) ?? [];
}

/**
 * Runs the rules in order; the first whose conditions all hold decides. Undefined when none
 * matches: the caller's default applies (import: accept; export: the speaker's own export
 * rules and filter, as Calico's `calico_export_to_bgp_peers`).
 */
export function evaluatePolicy(rules: readonly PolicyRule[], route: PolicyRoute): PolicyDecision | undefined {
  if (rules.length === 0) return undefined;
  let parsed: ParsedPrefix | undefined;
  for (let i = 0; i < rules.length; i++) {
    const c = compile(rules[i]);
    if (c.cidr) {
      parsed ??= parsePrefix(route.prefix);
      if (!parsed || !cidrMatches(c, parsed)) continue;
    }
    if (c.fromPeer && !route.fromPeer) continue;
    if (c.iface && (route.interface === undefined || !c.iface.test(route.interface))) continue;
    return { action: c.action, rule: i };
  }
  return undefined;
}

const INTERFACE = /^[a-zA-Z0-9_.*-]{1,15}$/;

function validateRule(rule: PolicyRule, v6: boolean, at: string): string | undefined {
  const maxLen = v6 ? 128 : 32;
  if (rule.action !== 'accept' && rule.action !== 'reject') return `${at}.action: must be "accept" or "reject", got ${JSON.stringify(rule.action)}`;
  if (rule.cidr !== undefined && rule.matchOperator === undefined) return `${at}.matchOperator: MatchOperator cannot be empty when CIDR is not`;
  if (rule.matchOperator !== undefined && rule.cidr === undefined) return `${at}.cidr: CIDR cannot be empty when MatchOperator is not`;
  if (rule.prefixLength !== undefined && rule.cidr === undefined) return `${at}.cidr: CIDR cannot be empty when PrefixLength is not`;
  if (rule.matchOperator !== undefined && !POLICY_MATCH_OPERATORS.includes(rule.matchOperator)) {
    return `${at}.matchOperator: must be one of ${POLICY_MATCH_OPERATORS.join(', ')}, got ${JSON.stringify(rule.matchOperator)}`;
  }
  if (rule.cidr !== undefined) {
    const p = parsePrefix(rule.cidr);
    if (!p) return `${at}.cidr: "${rule.cidr}" is not a CIDR`;
    if ((p.afi === 2) !== v6) return `${at}.cidr: "${rule.cidr}" is not an IPv${v6 ? 6 : 4} CIDR`;
    if (!p.exact) return `${at}.cidr: "${rule.cidr}" has host bits set`;
  }
  for (const k of ['min', 'max'] as const) {
    const v = rule.prefixLength?.[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > maxLen)) return `${at}.prefixLength.${k}: must be an integer 0..${maxLen}, got ${v}`;
  }
  if (rule.source !== undefined && rule.source !== 'RemotePeers') return `${at}.source: must be "RemotePeers", got ${JSON.stringify(rule.source)}`;
  if (rule.interface !== undefined && !INTERFACE.test(rule.interface)) return `${at}.interface: "${rule.interface}" must match ${INTERFACE.source}`;
  return undefined;
}

/**
 * Checks a policy the way Calico validates BGPFilter rules; returns the first problem as
 * `WHAT.v4[i].field: reason`, or undefined when the policy is valid.
 */
export function validateRoutePolicy(policy: RoutePolicy, what: string): string | undefined {
  for (const [key, v6] of [['v4', false], ['v6', true]] as const) {
    const rules = policy[key];
    if (rules === undefined) continue;
    const list: readonly PolicyRule[] = rules;
    if (!Array.isArray(rules)) return `${what}.${key}: must be a list of rules`;
    for (let i = 0; i < list.length; i++) {
      const err = validateRule(list[i], v6, `${what}.${key}[${i}]`);
      if (err) return err;
    }
  }
  return undefined;
}

function sameRule(a: PolicyRule, b: PolicyRule): boolean {
  return (
    a.action === b.action &&
    a.cidr === b.cidr &&
    a.matchOperator === b.matchOperator &&
    a.prefixLength?.min === b.prefixLength?.min &&
    a.prefixLength?.max === b.prefixLength?.max &&
    a.source === b.source &&
    a.interface === b.interface
  );
}

function sameRules(a: readonly PolicyRule[] | undefined, b: readonly PolicyRule[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((r, i) => sameRule(r, y[i]));
}

/** Structural equality of two policies (absent and empty lists are the same). */
export function sameRoutePolicy(a: RoutePolicy | undefined, b: RoutePolicy | undefined): boolean {
  return sameRules(a?.v4, b?.v4) && sameRules(a?.v6, b?.v6);
}
