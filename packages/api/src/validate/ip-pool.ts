import type { IPPool } from '@tabby/proto';
import { cidrsOverlap, LINK_LOCAL_V4, LINK_LOCAL_V6, parseCIDR } from '../net.js';
import type { Problems } from './problems.js';

export const ENCAP_MODES = ['Never', 'Always', 'CrossSubnet'] as const;
export const ALLOWED_USES = ['Workload', 'Tunnel', 'LoadBalancer'] as const;
export const DEFAULT_BLOCK_SIZE_V4 = 26;
export const DEFAULT_BLOCK_SIZE_V6 = 122;

/**
 * Normalises and defaults a pool in place, as Calico's client does on write: CIDR in
 * canonical form, blockSize 26 (IPv4) or 122 (IPv6), modes `Never`, nodeSelector `all()`,
 * allowedUses `[Workload, Tunnel]`, assignmentMode `Automatic`.
 */
export function defaultIPPool(obj: IPPool): void {
  const s = obj.spec;
  if (!s) return;
  const c = parseCIDR(s.cidr);
  if (c?.strictlyMasked) s.cidr = c.canonical;
  if (s.blockSize === 0 && c) s.blockSize = c.family === 4 ? DEFAULT_BLOCK_SIZE_V4 : DEFAULT_BLOCK_SIZE_V6;
  if (s.ipipMode === '') s.ipipMode = 'Never';
  if (s.vxlanMode === '') s.vxlanMode = 'Never';
  if (s.nodeSelector === '') s.nodeSelector = 'all()';
  if (s.allowedUses.length === 0) s.allowedUses = ['Workload', 'Tunnel'];
  if (s.assignmentMode === '') s.assignmentMode = 'Automatic';
}

/** Calico's IPPool rules (clientv3 validateAndSetDefaults + validateIPPoolSpec). Run after {@link defaultIPPool}. */
export function validateIPPool(p: Problems, obj: IPPool, previous: IPPool | undefined): void {
  const s = obj.spec;
  if (!s) {
    p.add('IPPool.Spec.CIDR', 'spec.cidr', undefined, 'IPPool CIDR must be specified');
    return;
  }
  const c = s.cidr === '' ? undefined : parseCIDR(s.cidr);
  if (s.cidr === '') p.add('IPPool.Spec.CIDR', 'spec.cidr', undefined, 'IPPool CIDR must be specified');
  else if (!c) p.add('IPPool.Spec.CIDR', 'spec.cidr', s.cidr, 'IPPool CIDR must be a valid subnet');
  else if (!c.strictlyMasked) p.add('IPPool.Spec.CIDR', 'spec.cidr', s.cidr, `IPPool CIDR is not strictly masked (did you mean ${c.canonical}?)`);

  const prev = previous?.spec;
  if (prev) {
    // Compare what the CIDRs mean, not how they are written (FD00::/64 is fd00::/64), and an
    // unset previous blockSize as its default.
    const pc = parseCIDR(prev.cidr);
    if (c && (pc?.canonical ?? prev.cidr) !== c.canonical)
      p.add('IPPool.Spec.CIDR', 'spec.cidr', s.cidr, `IPPool CIDR cannot be modified (it is ${prev.cidr}); follow the IP pool migration procedure: create a new pool, disable this one, recreate its workloads, then delete it`);
    const prevBlock = prev.blockSize === 0 && pc ? (pc.family === 4 ? DEFAULT_BLOCK_SIZE_V4 : DEFAULT_BLOCK_SIZE_V6) : prev.blockSize;
    if (prevBlock !== s.blockSize)
      p.add('IPPool.Spec.BlockSize', 'spec.blockSize', s.blockSize, `IPPool BlockSize cannot be modified (it is ${prevBlock}); to use another block size, create a new pool and migrate to it`);
    if (prev.allowedUses.includes('LoadBalancer') && s.allowedUses.some((u) => u !== 'LoadBalancer'))
      p.add('IPPool.Spec.AllowedUses', 'spec.allowedUses', undefined, 'IPPool allowed use cannot be changed from LoadBalacer to Workload or Tunnel');
  }

  if (c) {
    if (c.family === 4 && (s.blockSize < 20 || s.blockSize > 32)) p.add('IPPool.Spec.BlockSize', 'spec.blockSize', s.blockSize, 'IPv4 block size must be between 20 and 32');
    else if (c.family === 6 && (s.blockSize < 116 || s.blockSize > 128))
      p.add('IPPool.Spec.BlockSize', 'spec.blockSize', s.blockSize, 'IPv6 block size must be between 116 and 128');
    else if (c.prefix > s.blockSize && s.disabled !== true)
      p.add('IPPool.Spec.CIDR', 'spec.cidr', s.cidr, 'IP pool size is too small for use with Calico IPAM. It must be equal to or greater than the block size.');
    if (c.family === 4 && cidrsOverlap(c, LINK_LOCAL_V4)) p.add('IPPool.Spec.CIDR', 'spec.cidr', s.cidr, 'IPPool CIDR overlaps with IPv4 Link Local range 169.254.0.0/16');
    if (c.family === 6 && cidrsOverlap(c, LINK_LOCAL_V6)) p.add('IPPool.Spec.CIDR', 'spec.cidr', s.cidr, 'IPPool CIDR overlaps with IPv6 Link Local range fe80::/10');
    if (c.family === 6 && s.ipipMode !== 'Never' && s.ipipMode !== '') p.add('IPPool.Spec.IPIPMode', 'spec.ipipMode', s.ipipMode, 'IPIP is not supported on an IPv6 IP pool');
  }
  p.oneOf('IPPool.Spec.IPIPMode', 'spec.ipipMode', s.ipipMode, ENCAP_MODES);
  p.oneOf('IPPool.Spec.VXLANMode', 'spec.vxlanMode', s.vxlanMode, ENCAP_MODES);
  if (s.ipipMode !== 'Never' && s.vxlanMode !== 'Never' && s.ipipMode !== '' && s.vxlanMode !== '')
    p.add('IPPool.Spec.VXLANMode', 'spec.vxlanMode', s.vxlanMode, 'Cannot enable both VXLAN and IPIP on the same IPPool');

  p.selector('IPPool.Spec.NodeSelector', 'spec.nodeSelector', s.nodeSelector, {
    noGlobal: 'global() selector is not valid for IPPool nodeSelector - use all() instead',
  });
  p.selector('IPPool.Spec.NamespaceSelector', 'spec.namespaceSelector', s.namespaceSelector, {
    noGlobal: 'global() selector is not valid for IPPool namespaceSelector - use all() instead',
  });
  p.oneOf('IPPool.Spec.AssignmentMode', 'spec.assignmentMode', s.assignmentMode, ['Automatic', 'Manual']);

  s.allowedUses.forEach((u, i) => {
    if (!(ALLOWED_USES as readonly string[]).includes(u)) p.add(`IPPool.Spec.AllowedUses[${i}]`, `spec.allowedUses[${i}]`, u, `unknown use: ${u}`);
  });
  if (s.allowedUses.includes('LoadBalancer')) {
    for (const u of s.allowedUses) if (u !== 'LoadBalancer') p.add('IPPool.Spec.AllowedUses', 'spec.allowedUses', u, `LoadBalancer cannot be used at the same time as: ${u}`);
    if (s.nodeSelector !== 'all()') p.add('IPPool.Spec.NodeSelector', 'spec.nodeSelector', s.nodeSelector, 'IP Pool with AllowedUse LoadBalancer must have node selector set to all()');
    if (s.ipipMode !== 'Never' || s.vxlanMode !== 'Never') p.add('IPPool.Spec.AllowedUses', 'spec.allowedUses', undefined, 'IP Pool with AllowedUse LoadBalancer cannot use IPIP or VXLAN');
    // Calico's text here reads "must have DisableBGPExport set to true" although the check
    // fires when it IS true; Tabby says what is actually wrong.
    if (s.disableBGPExport)
      p.add('IPPool.Spec.DisableBGPExport', 'spec.disableBGPExport', 'true', 'IP Pool with AllowedUse LoadBalancer must not set disableBGPExport: load-balancer addresses are announced over BGP');
  }
  if (s.allowedUses.includes('Tunnel') && s.namespaceSelector !== '')
    p.add(
      'IPPool.Spec.NamespaceSelector',
      'spec.namespaceSelector',
      s.namespaceSelector,
      // allowedUses defaults to [Workload, Tunnel], so say how to get a namespaceSelector accepted.
      'IP Pool with AllowedUse Tunnel cannot have namespaceSelector specified - tunnel IPs are not namespaced resources; set allowedUses: [Workload] to use a namespaceSelector',
    );
}

/**
 * Cross-resource rule checked by the store inside its write transaction: a new pool's
 * CIDR must not overlap another pool's (one entry per overlapping pool).
 */
export function poolOverlapProblems(p: Problems, pool: IPPool, others: readonly IPPool[]): void {
  const c = parseCIDR(pool.spec?.cidr ?? '');
  if (!c) return;
  const name = pool.metadata?.name ?? '';
  for (const o of others) {
    if ((o.metadata?.name ?? '') === name) continue;
    const oc = parseCIDR(o.spec?.cidr ?? '');
    if (oc && cidrsOverlap(c, oc))
      p.add('IPPool.Spec.CIDR', 'spec.cidr', pool.spec?.cidr, `IPPool(${name}) CIDR overlaps with IPPool(${o.metadata?.name ?? ''}) CIDR ${o.spec?.cidr ?? ''}`);
  }
}
