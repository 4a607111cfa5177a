/**
 * Safety analysis, Preview and Explain on compiled topologies (no processes).
 */
import { describe, expect, it } from 'vitest';
import { walkthroughManifest } from '@tabby/harness';
import { analyze } from '../src/compile/analyze.js';
import { explain } from '../src/compile/explain.js';
import { isBadPeerError, isUnknownNodeError } from '../src/compile/errors.js';
import { preview } from '../src/compile/preview.js';
import { bgpConfig, bgpPeer, compile, manifest, node, nodes } from './support.js';

const MESH_OFF = bgpConfig('nodeToNodeMeshEnabled: false');
const RR = { labels: { 'i-am-a-route-reflector': 'true' }, rr: '224.0.0.1' };

function summary(diff: ReturnType<typeof preview>['nodes']): string[] {
  return diff.map((d) => `${d.node}: ${d.sessions.map((s) => `${s.type === 'added' ? '+' : s.type === 'removed' ? '-' : '~'}${(s.after ?? s.before)?.name}`).join(' ')}`);
}

describe('Preview of turning the mesh off (walkthrough flow 1 after flow 5)', () => {
  it('on a 5-node mesh without route-reflector peers: every session goes and all routes would be lost', () => {
    const mesh = compile([nodes(5)]);
    expect(analyze(mesh)).toEqual([]);
    const p = preview(mesh, { apply: manifest(bgpConfig('nodeToNodeMeshEnabled: false')), delete: [] });
    expect(summary(p.nodes)).toEqual([
      'node1: -Mesh_10_0_0_2 -Mesh_10_0_0_3 -Mesh_10_0_0_4 -Mesh_10_0_0_5',
      'node2: -Mesh_10_0_0_1 -Mesh_10_0_0_3 -Mesh_10_0_0_4 -Mesh_10_0_0_5',
      'node3: -Mesh_10_0_0_1 -Mesh_10_0_0_2 -Mesh_10_0_0_4 -Mesh_10_0_0_5',
      'node4: -Mesh_10_0_0_1 -Mesh_10_0_0_2 -Mesh_10_0_0_3 -Mesh_10_0_0_5',
      'node5: -Mesh_10_0_0_1 -Mesh_10_0_0_2 -Mesh_10_0_0_3 -Mesh_10_0_0_4',
    ]);
    expect(p.warnings.map((w) => [w.severity, w.code, w.message])).toEqual([
      [
        'error',
        'routes-not-propagated',
        "no node's IPv4 routes would reach any other node: every route between the 5 nodes would be lost (the node-to-node mesh is disabled: BGPPeers must connect the nodes, e.g. through route reflectors)",
      ],
      ['warning', 'no-sessions', '5 nodes would have no BGP session: node1, node2, node3, node4, node5'],
    ]);
    expect(p.resolved).toEqual([]);
  });

  it('with the route-reflector peers in place: only the client-to-client mesh sessions go, and no warning', () => {
    const withRRs = compile([nodes(5, (i) => (i <= 2 ? RR : {})), walkthroughManifest('5. peer-to-rrs'), walkthroughManifest('5. rr-mesh')]);
    expect(analyze(withRRs)).toEqual([]);
    const p = preview(withRRs, { apply: manifest(bgpConfig('nodeToNodeMeshEnabled: false')), delete: [] });
    expect(summary(p.nodes)).toEqual(['node3: -Mesh_10_0_0_4 -Mesh_10_0_0_5', 'node4: -Mesh_10_0_0_3 -Mesh_10_0_0_5', 'node5: -Mesh_10_0_0_3 -Mesh_10_0_0_4']);
    expect(p.warnings).toEqual([]);
  });

  it('reports the sessions that appear when the RR peers are added, and resolves warnings', () => {
    const bare = compile([MESH_OFF, nodes(3, (i) => (i === 1 ? RR : {}))]);
    expect(analyze(bare).map((w) => w.code)).toEqual(['routes-not-propagated', 'no-sessions']);
    const p = preview(bare, { apply: manifest([walkthroughManifest('5. peer-to-rrs'), walkthroughManifest('5. rr-mesh')].join('---\n')), delete: [] });
    expect(summary(p.nodes)).toEqual(['node1: +Node_10_0_0_2 +Node_10_0_0_3', 'node2: +Node_10_0_0_1', 'node3: +Node_10_0_0_1']);
    expect(p.warnings.map((w) => w.code)).toEqual(['single-route-reflector']);
    expect(p.warnings[0].message).toBe(
      "route reflector cluster 224.0.0.1 would have a single reflector (node1): while it restarts its 2 clients lose each other's routes; give a second node the same routeReflectorClusterID",
    );
    expect(p.resolved.map((w) => w.code)).toEqual(['routes-not-propagated', 'no-sessions']);
  });

  it('previews deletes as well', () => {
    const c = compile([MESH_OFF, nodes(2), walkthroughManifest('2. global BGP peer')]);
    const p = preview(c, { apply: [], delete: [{ kind: 'BGPPeer', name: 'bgppeer-global-3040' }] });
    expect(summary(p.nodes)).toEqual(['node1: -Global_192_20_30_40', 'node2: -Global_192_20_30_40']);
  });
});

describe('Check', () => {
  it('finds sessions that cannot come up, AS problems, empty selectors and reflector clusters that drop routes', () => {
    const c = compile([
      MESH_OFF,
      nodes(4, (i) => (i <= 2 ? { rr: '1.1.1.1' } : {})),
      bgpPeer('a', 'node: node3\npeerIP: 10.0.0.1\nasNumber: 64512'),
      bgpPeer('b', 'node: node4\npeerIP: 10.0.0.2\nasNumber: 64512'),
      bgpPeer('c', 'node: node1\npeerIP: 10.0.0.2\nasNumber: 64512'),
      bgpPeer('no-as', 'node: node3\npeerIP: 192.0.2.1'),
      bgpPeer('wrong-as', 'node: node3\npeerIP: 10.0.0.4\nasNumber: 65000'),
      bgpPeer('nothing', 'nodeSelector: has(zzz)\npeerIP: 192.0.2.2\nasNumber: 65001'),
      bgpPeer('ghost', 'node: node9\npeerIP: 192.0.2.3\nasNumber: 65001'),
    ]);
    expect(analyze(c).map((w) => `${w.severity} ${w.code}: ${w.message}`)).toEqual([
      'error impossible-as: 1 AS number makes sessions impossible: BGPPeer(no-as) has no asNumber, so the sessions to 192.0.2.1 would use AS 0, which BGP forbids (RFC 7607): node3',
      'error impossible-as: 1 session between nodes cannot come up: node3 expects AS 65000 from node4 (10.0.0.4), whose AS is 64512: the OPEN is refused (Bad Peer AS), and node4 has no session back',
      // Issue #2735: node1 and node2 reflect with one cluster id, node3 is a client of node1
      // only and node4 of node2 only: each reflector drops what the other reflects.
      "error routes-not-propagated: IPv4 routes of 2 nodes do not reach every other node (4 of 12 node pairs), e.g. node3's routes do not reach node2, node4 (the node-to-node mesh is disabled: BGPPeers must connect the nodes, e.g. through route reflectors)",
      'warning selector-matches-nothing: BGPPeer(ghost) applies to node node9, which does not exist',
      'warning selector-matches-nothing: BGPPeer(nothing) applies to no node: its nodeSelector "has(zzz)" matches none',
    ]);
  });

  it('flags a reflector cluster of one, the mesh overlapping BGPPeers, passive pairs and a large mesh', () => {
    const single = compile([MESH_OFF, nodes(3, (i) => (i === 1 ? RR : {})), walkthroughManifest('5. peer-to-rrs')]);
    expect(analyze(single).map((w) => w.code)).toEqual(['single-route-reflector']);
    const overlap = compile([nodes(2), bgpPeer('n1-n2', 'node: node1\npeerIP: 10.0.0.2\nasNumber: 64512')]);
    expect(analyze(overlap).map((w) => w.message)).toEqual([
      "2 sessions are produced both by the node-to-node mesh and by a BGPPeer (node1 → node2 by BGPPeer(n1-n2), node2 → node1 by BGPPeer(n1-n2)): Calico would run two BIRD sessions to one neighbour; Tabby runs the BGPPeer's. Disable the mesh once BGPPeers connect the nodes",
    ]);
    const big = compile([Array.from({ length: 101 }, (_, i) => node(`n${i}`, `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`)).join('---\n')]);
    expect(analyze(big).map((w) => w.message)).toEqual(['the node-to-node mesh connects 101 nodes with 5050 sessions; beyond about 100 nodes use route reflectors (Calico issue #9976)']);
  });

  it('says when no side can connect (a port mismatch)', () => {
    const c = compile([MESH_OFF, bgpConfig('listenPort: 1790', 'node.node2'), nodes(2), bgpPeer('n1-n2', 'node: node1\npeerIP: 10.0.0.2:1791\nasNumber: 64512')]);
    // node1 dials 1791 where node2 listens on 1790; node2 has no session back (its port is not 1791).
    expect(analyze(c).map((w) => w.message)[0]).toBe(
      '1 session between nodes cannot come up: node2 has no session to node1 (10.0.0.1), so node1\'s session to node2 (10.0.0.2) never comes up',
    );
  });
});

describe('Explain', () => {
  const rr = compile([MESH_OFF, nodes(3, (i) => (i === 1 ? RR : {})), walkthroughManifest('5. peer-to-rrs'), walkthroughManifest('5. rr-mesh')]);

  it('names the resource and rule of a reflector-client session', () => {
    const e = explain(rr, 'node1', 'node3');
    expect(e.notes).toEqual([]);
    expect(e.sessions.map((s) => s.reasons)).toEqual([
      [
        'node specific session Node_10_0_0_3: node1 (10.0.0.1) → node3 (10.0.0.3) port 179, IPv4',
        'produced by reverse peering of BGPPeer(peer-to-rrs): node1 matches its peerSelector "has(i-am-a-route-reflector)" and node3 matches its nodeSelector "!has(i-am-a-route-reflector)"; Calico adds the reverse so that both ends configure the session (reversePeering: Auto)',
        "local AS 64512 (Calico's default, as neither Node(node1) nor the default BGPConfiguration sets one), remote AS 64512 (node3's AS: Calico's default, as neither Node(node3) nor the default BGPConfiguration sets one): iBGP",
        'port 179 (the BGP default)',
        "node1 connects (node-specific sessions are active on both ends; BGP's collision detection keeps one connection)",
        'node3 is a route-reflector client of node1: node1 is a route reflector (cluster 224.0.0.1), the session is iBGP and the peer is not in cluster 224.0.0.1',
      ],
    ]);
    expect(explain(rr, 'node3', '10.0.0.1').sessions[0].reasons[1]).toBe(
      'produced by BGPPeer(peer-to-rrs) has nodeSelector "!has(i-am-a-route-reflector)", which node3 matches, with peerSelector "has(i-am-a-route-reflector)", which node1 matches',
    );
  });

  it('says why there is no session', () => {
    expect(explain(rr, 'node2', 'node3').notes).toEqual([
      'the node-to-node mesh is disabled (BGPConfiguration(default) nodeToNodeMeshEnabled: false)',
      'BGPPeer(peer-to-rrs) applies to node2 but its peerSelector "has(i-am-a-route-reflector)" does not match node3',
    ]);
    expect(explain(rr, 'node2', 'node2').notes).toEqual(['node2 never peers with itself']);
    expect(explain(rr, 'node2', 'fd00::9').notes).toEqual(['node2 has no IPv6 address (spec.bgp.ipv6Address), so it has no IPv6 sessions', 'no BGPPeer has peerIP fd00::9']);
    const mesh = compile([nodes(2, (i) => (i === 1 ? RR : {}))]);
    expect(explain(mesh, 'node2', 'node1').notes[0]).toBe('node1 is a route reflector (cluster 224.0.0.1): the mesh skips route reflectors');
  });

  it('refuses an unknown node or peer', () => {
    let unknown: unknown;
    try {
      explain(rr, 'nope', 'node1');
    } catch (e) {
      unknown = e;
    }
    expect((unknown as { reason?: string }).reason).toBe('not-found');
    let err: unknown;
    try {
      explain(rr, 'node1', 'not a peer');
    } catch (e) {
      err = e;
    }
    expect(isBadPeerError(err)).toBe(true);
    try {
      explain(rr, 'zz', 'node1');
    } catch (e) {
      expect(isUnknownNodeError(e)).toBe(true);
    }
  });
});
