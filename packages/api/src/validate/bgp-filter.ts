import type { BGPFilter, BGPFilterRuleV4, BGPFilterRuleV6 } from '@tabby/proto';
import { parseIPOrCIDR, type IPFamily } from '../net.js';
import type { Problems } from './problems.js';

/** BGPFilter rule `matchOperator` values (Calico's BGPFilterMatchOperator). */
export const FILTER_MATCH_OPERATORS = ['Equal', 'NotEqual', 'In', 'NotIn'] as const;
/** BGPFilter rule `action` values (Calico's BGPFilterAction). */
export const FILTER_ACTIONS = ['Accept', 'Reject'] as const;
/** BGPFilter rule `source` values (Calico's BGPFilterMatchSource). */
export const FILTER_SOURCES = ['RemotePeers'] as const;

type Rule = BGPFilterRuleV4 | BGPFilterRuleV6;

/** The four rule lists of a BGPFilter spec, with their family and names. */
const LISTS = [
  { json: 'exportV4', go: 'ExportV4', family: 4 },
  { json: 'importV4', go: 'ImportV4', family: 4 },
  { json: 'exportV6', go: 'ExportV6', family: 6 },
  { json: 'importV6', go: 'ImportV6', family: 6 },
] as const;

/**
 * Normalises rule CIDRs in place: an address without a prefix length means the whole
 * address (Calico's `netv4`/`netv6` accept it as /32 or /128), and every CIDR is stored in
 * canonical form, so the topology compiler reads one spelling.
 */
export function defaultBGPFilter(obj: BGPFilter): void {
  const s = obj.spec;
  if (!s) return;
  for (const l of LISTS) {
    for (const rule of s[l.json] as Rule[]) {
      if (rule.cidr === '') continue;
      const c = parseIPOrCIDR(rule.cidr);
      if (c && c.family === l.family && c.strictlyMasked) rule.cidr = c.canonical;
    }
  }
}

/**
 * Calico's BGPFilter rules (the v3 type's validate tags, validateBGPFilterRuleV4/V6):
 * each rule's cidr is a strictly masked network of the list's family, prefixLength bounds
 * are 0–32 / 0–128, matchOperator, cidr and prefixLength need one another, action is
 * required (Accept or Reject), source is RemotePeers, interface a name pattern.
 */
export function validateBGPFilter(p: Problems, obj: BGPFilter): void {
  const s = obj.spec;
  if (!s) return;
  for (const l of LISTS) {
    (s[l.json] as Rule[]).forEach((rule, i) => validateRule(p, rule, `BGPFilter.Spec.${l.go}[${i}]`, `spec.${l.json}[${i}]`, l.family));
  }
}

function validateRule(p: Problems, r: Rule, field: string, path: string, family: IPFamily): void {
  const maxLength = family === 4 ? 32 : 128;
  if (r.cidr !== '') {
    const c = parseIPOrCIDR(r.cidr);
    if (!c || c.family !== family) p.add(`${field}.CIDR`, `${path}.cidr`, r.cidr, `must be an IPv${family} CIDR`);
    else if (!c.strictlyMasked) p.add(`${field}.CIDR`, `${path}.cidr`, r.cidr, `CIDR has host bits set; did you mean ${c.canonical}?`);
  }
  const pl = r.prefixLength;
  if (pl) {
    for (const [json, go, v] of [
      ['min', 'Min', pl.min],
      ['max', 'Max', pl.max],
    ] as const) {
      if (v !== undefined && (v < 0 || v > maxLength)) p.add(`${field}.PrefixLength.${go}`, `${path}.prefixLength.${json}`, v, `must be from 0 to ${maxLength}`);
    }
  }
  p.oneOf(`${field}.MatchOperator`, `${path}.matchOperator`, r.matchOperator, FILTER_MATCH_OPERATORS);
  p.oneOf(`${field}.Source`, `${path}.source`, r.source, FILTER_SOURCES);
  if (r.interface !== '' && !/^[a-zA-Z0-9_.*-]{1,15}$/.test(r.interface))
    p.add(`${field}.Interface`, `${path}.interface`, r.interface, "must be 1-15 characters of letters, digits, '_', '.', '-' or '*'");
  if (r.action === '') p.add(`${field}.Action`, `${path}.action`, undefined, 'must be set (Accept or Reject)');
  else p.oneOf(`${field}.Action`, `${path}.action`, r.action, FILTER_ACTIONS);
  // Calico's struct-level rules (validateBGPFilterRule), with its reasons.
  if (r.cidr !== '' && r.matchOperator === '') p.add(`${field}.CIDR`, `${path}.cidr`, r.cidr, 'MatchOperator cannot be empty when CIDR is not');
  if (r.cidr === '' && r.matchOperator !== '') p.add(`${field}.MatchOperator`, `${path}.matchOperator`, r.matchOperator, 'CIDR cannot be empty when MatchOperator is not');
  if (r.cidr === '' && pl) p.add(`${field}.PrefixLength`, `${path}.prefixLength`, prefixLengthText(pl), 'CIDR cannot be empty when PrefixLength is not');
}

/** The prefix length bounds as a short text for an error value: `{min: 16, max: 24}`. */
function prefixLengthText(pl: { min?: number | undefined; max?: number | undefined }): string {
  const parts = [pl.min !== undefined ? `min: ${pl.min}` : '', pl.max !== undefined ? `max: ${pl.max}` : ''].filter((x) => x !== '');
  return `{${parts.join(', ')}}`;
}
