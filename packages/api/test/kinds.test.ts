import { describe, expect, it } from 'vitest';
import {
  KINDS,
  UnknownKindError,
  findKind,
  idOf,
  isUnknownKindError,
  kindByExactName,
  kindOf,
  metaOf,
  mustFindKind,
  objectOf,
  resourceId,
  wrap,
  type KindName,
} from '../src/index.js';
import { resourceOf } from './helpers.js';

/** calicoctl's aliases (docs/calico-compat.md §4.2) for the kinds Tabby has, exactly and in order. */
const CALICO_ALIASES: Readonly<Record<string, readonly string[]>> = {
  BGPConfiguration: ['bgpconfiguration', 'bgpconfigurations', 'bgpconfig', 'bgpconfigs'],
  BGPPeer: ['bgppeer', 'bgppeers', 'bgpp', 'bgpps', 'bp', 'bps'],
  IPPool: ['ippool', 'ippools', 'ipp', 'ipps', 'pool', 'pools'],
  IPReservation: ['ipreservation', 'ipreservations', 'reservation', 'reservations'],
  IPAMConfiguration: ['ipamconfiguration', 'ipamconfigurations', 'ipamconfig', 'ipamconfigs'],
  Node: ['node', 'nodes', 'no', 'nos'],
  WorkloadEndpoint: ['workloadendpoint', 'workloadendpoints', 'wep', 'weps'],
};

describe('the kind registry', () => {
  it.each(Object.entries(CALICO_ALIASES))("%s has calicoctl's aliases", (kind, aliases) => {
    expect(KINDS.find((k) => k.kind === kind)?.aliases).toEqual(aliases);
  });

  it.each(Object.entries(CALICO_ALIASES).flatMap(([kind, aliases]) => aliases.map((a) => [a, kind] as const)))('%s is %s', (alias, kind) => {
    expect(findKind(alias)?.kind).toBe(kind);
  });

  it.each([
    ['bgpPeer', 'BGPPeer'],
    ['BGPPEERS', 'BGPPeer'],
    ['BgpConfig', 'BGPConfiguration'],
    ['BGPConfiguration', 'BGPConfiguration'],
    ['Pool', 'IPPool'],
    ['IPPool', 'IPPool'],
    ['IPPOOLS', 'IPPool'],
    ['nodes', 'Node'],
    ['NO', 'Node'],
    ['WEP', 'WorkloadEndpoint'],
    ['WorkloadEndpoints', 'WorkloadEndpoint'],
    ['NodeStatus', 'NodeStatus'],
    ['caliconodestatuses', 'NodeStatus'],
  ])('%s, in any case, is %s', (alias, kind) => {
    expect(findKind(alias)?.kind).toBe(kind);
    expect(mustFindKind(alias).kind).toBe(kind);
  });

  it.each(['x', 'pod', 'ipres', 'hep', '', 'ippool ', 'IPPoolList'])('%j is not supported', (alias) => {
    expect(findKind(alias)).toBeUndefined();
    expect(() => mustFindKind(alias)).toThrow(new UnknownKindError(alias));
    let caught: unknown;
    try {
      mustFindKind(alias);
    } catch (err) {
      caught = err;
    }
    expect(isUnknownKindError(caught)).toBe(true);
    expect([(caught as UnknownKindError).message, (caught as UnknownKindError).name, (caught as UnknownKindError).kind]).toEqual([
      `resource type '${alias}' is not supported`,
      'UnknownKindError',
      alias,
    ]);
  });

  it('has no alias that names two kinds', () => {
    const owners = new Map<string, Set<string>>();
    for (const k of KINDS) for (const a of [k.kind.toLowerCase(), ...k.aliases]) owners.set(a, (owners.get(a) ?? new Set()).add(k.kind));
    expect([...owners].filter(([, kinds]) => kinds.size > 1)).toEqual([]);
  });

  it('takes a manifest kind only exactly as written', () => {
    expect([kindByExactName('IPPool')?.kind, kindByExactName('ippool'), kindByExactName('pool'), kindByExactName('IPPoolList')]).toEqual(['IPPool', undefined, undefined, undefined]);
  });

  it.each([
    ['BGPConfiguration', false, 'BGPConfigurationList', 'bgpConfiguration'],
    ['BGPPeer', false, 'BGPPeerList', 'bgpPeer'],
    ['IPPool', false, 'IPPoolList', 'ipPool'],
    ['Node', false, 'NodeList', 'node'],
    ['NodeStatus', false, 'NodeStatusList', 'nodeStatus'],
    ['WorkloadEndpoint', true, 'WorkloadEndpointList', 'workloadEndpoint'],
  ] as const)('%s: namespaced %s, list %s, oneof case %s', (kind, namespaced, listKind, oneofCase) => {
    const k = kindByExactName(kind)!;
    expect([k.namespaced, k.listKind, k.oneofCase]).toEqual([namespaced, listKind, oneofCase]);
  });
});

describe('identifiers in messages', () => {
  it.each([
    ['IPPool', '', 'blah', 'IPPool(blah)'],
    ['IPPool', 'ignored', 'blah', 'IPPool(blah)'],
    ['BGPPeer', '', 'bgppeer-global-3040', 'BGPPeer(bgppeer-global-3040)'],
    ['Node', '', 'node1', 'Node(node1)'],
    ['WorkloadEndpoint', 'default', 'node1-k8s-nginx-eth0', 'WorkloadEndpoint(default/node1-k8s-nginx-eth0)'],
    ['WorkloadEndpoint', '', 'x', 'WorkloadEndpoint(/x)'],
  ] as const)('%s %j %j is %s', (kind, namespace, name, id) => {
    expect(idOf(kind as KindName, namespace, name)).toBe(id);
    expect(idOf(kindByExactName(kind)!, namespace, name)).toBe(id);
  });

  it('resourceId reads the kind and metadata of a resource', () => {
    expect(resourceId(resourceOf('WorkloadEndpoint', { name: 'node1-k8s-nginx-eth0', namespace: 'kube-system' }, {}))).toBe('WorkloadEndpoint(kube-system/node1-k8s-nginx-eth0)');
    expect(resourceId(resourceOf('IPPool', { name: 'new-pool' }, {}))).toBe('IPPool(new-pool)');
  });
});

describe('the Resource envelope', () => {
  it('wraps and unwraps an object of a kind', () => {
    const pool = KINDS.find((k) => k.kind === 'IPPool')!;
    const obj = pool.fromPartial({ metadata: { name: 'p' } });
    const r = wrap('IPPool', obj);
    expect([r.kind?.$case, kindOf(r), objectOf(r)]).toEqual(['ipPool', pool, obj]);
    expect(wrap(pool, obj)).toEqual(r);
  });

  it('makes metadata when an object has none, so callers can set it', () => {
    const r = wrap('Node', KINDS.find((k) => k.kind === 'Node')!.fromPartial({}));
    metaOf(r).name = 'node1';
    expect(resourceId(r)).toBe('Node(node1)');
  });

  it('refuses an empty envelope', () => {
    expect(() => kindOf({ kind: undefined })).toThrow("resource type '(empty resource)' is not supported");
    expect(() => objectOf({ kind: undefined })).toThrow("resource type '(empty resource)' is not supported");
  });
});
