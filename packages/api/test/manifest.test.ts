import { describe, expect, it } from 'vitest';
import { ManifestError, isManifestError, parseManifest, resourceId, type ManifestResource } from '../src/index.js';
import { manifestErrors, parseOne } from './helpers.js';

/** Kind, id, document and position of each resource read. */
function summary(resources: readonly ManifestResource[]): string[] {
  return resources.map((r) => `${resourceId(r.resource)} doc ${r.document} at ${r.position.line}:${r.position.column}`);
}

const pool = (name: string, cidr: string) => `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: ${name}
spec:
  cidr: ${cidr}
`;

describe('documents', () => {
  it.each([
    ['one document', pool('a', '10.0.0.0/16'), ['IPPool(a) doc 1 at 1:1']],
    ['three documents', `${pool('a', '10.0.0.0/16')}---\n${pool('b', '10.1.0.0/16')}---\n${pool('c', '10.2.0.0/16')}`, ['IPPool(a) doc 1 at 1:1', 'IPPool(b) doc 2 at 8:1', 'IPPool(c) doc 3 at 15:1']],
    ['a leading ---', `---\n${pool('a', '10.0.0.0/16')}`, ['IPPool(a) doc 1 at 2:1']],
    ['empty documents between and after', `---\n---\n${pool('a', '10.0.0.0/16')}---\n\n---\n# only a comment\n${pool('b', '10.1.0.0/16')}---\n`, ['IPPool(a) doc 2 at 3:1', 'IPPool(b) doc 4 at 13:1']],
    ['a trailing ... end marker', `${pool('a', '10.0.0.0/16')}...\n`, ['IPPool(a) doc 1 at 1:1']],
    ['nothing at all', '', []],
    ['only blank lines and comments', '\n# nothing here\n\n', []],
    ['an explicit null', '~\n', []],
  ])('%s', (_name, text, want) => {
    const result = parseManifest(text);
    expect(result.errors).toEqual([]);
    expect(summary(result.resources)).toEqual(want);
  });

  it('goes on after a bad document and numbers the documents as written', () => {
    const text = `${pool('a', '10.0.0.0/16')}---\n${pool('b', '10.1.0.0/16').replace('cidr', 'cdir')}---\n${pool('c', '10.2.0.0/16')}`;
    const result = parseManifest(text);
    expect(summary(result.resources)).toEqual(['IPPool(a) doc 1 at 1:1', 'IPPool(c) doc 3 at 15:1']);
    expect(result.errors.map((e) => e.message)).toEqual([
      'document 2, line 13, column 3: spec.cdir: unknown field "cdir" (IPPoolSpec fields: cidr, blockSize, ipipMode, vxlanMode, natOutgoing, disabled, disableBGPExport, nodeSelector, namespaceSelector, allowedUses, assignmentMode)',
    ]);
  });
});

describe('lists', () => {
  it('reads a <Kind>List whose items inherit the kind, or repeat it', () => {
    const result = parseManifest(`apiVersion: projectcalico.org/v3
kind: IPPoolList
metadata:
  resourceVersion: "12"
items:
- metadata:
    name: a
  spec:
    cidr: 10.0.0.0/16
- apiVersion: projectcalico.org/v3
  kind: IPPool
  metadata:
    name: b
  spec:
    cidr: 10.1.0.0/16
`);
    expect(result.errors).toEqual([]);
    expect(summary(result.resources)).toEqual(['IPPool(a) doc 1 at 6:3', 'IPPool(b) doc 1 at 10:3']);
  });

  it('reads a List of mixed kinds (Kubernetes apiVersion v1 allowed)', () => {
    const result = parseManifest(`apiVersion: v1
kind: List
items:
- apiVersion: projectcalico.org/v3
  kind: BGPPeer
  metadata: {name: p}
  spec: {peerIP: 10.0.0.1}
- apiVersion: projectcalico.org/v3
  kind: WorkloadEndpoint
  metadata: {name: node1-k8s-nginx-eth0, namespace: default}
  spec: {node: node1, orchestrator: k8s, pod: nginx, endpoint: eth0, interfaceName: cali1}
`);
    expect(result.errors).toEqual([]);
    expect(summary(result.resources)).toEqual(['BGPPeer(p) doc 1 at 4:3', 'WorkloadEndpoint(default/node1-k8s-nginx-eth0) doc 1 at 8:3']);
  });

  it.each([
    ['an empty list', 'apiVersion: projectcalico.org/v3\nkind: NodeList\nitems: []\n'],
    ['a list without items', 'apiVersion: projectcalico.org/v3\nkind: NodeList\nmetadata: {}\n'],
    ['a list with items: null', 'apiVersion: projectcalico.org/v3\nkind: List\nitems:\n'],
  ])('%s holds no resource', (_name, text) => {
    expect(parseManifest(text)).toEqual({ resources: [], errors: [] });
  });

  it.each([
    [
      'an item of another kind',
      'apiVersion: projectcalico.org/v3\nkind: IPPoolList\nitems:\n- apiVersion: projectcalico.org/v3\n  kind: BGPPeer\n  metadata: {name: p}\n',
      ['document 1, line 5, column 9: kind: item of an IPPoolList must be an IPPool, not a BGPPeer'],
    ],
    [
      'an item that names its kind but not its apiVersion',
      'apiVersion: projectcalico.org/v3\nkind: NodeList\nitems:\n- kind: Node\n  metadata: {name: n}\n',
      ['document 1, line 4, column 3: apiVersion: unknown resource type (Node) and/or version (): use apiVersion: projectcalico.org/v3'],
    ],
    [
      'a List item without a kind',
      'apiVersion: v1\nkind: List\nitems:\n- metadata: {name: n}\n',
      ['document 1, line 4, column 3: kind: unknown resource type () and/or version (): known kinds are BGPConfiguration, BGPFilter, BGPPeer, IPAMConfiguration, IPPool, IPReservation, Node, NodeStatus, WorkloadEndpoint'],
    ],
    [
      'a list of another apiVersion',
      'apiVersion: projectcalico.org/v1\nkind: IPPoolList\nitems: []\n',
      ['document 1, line 1, column 13: apiVersion: unknown resource type (IPPoolList) and/or version (projectcalico.org/v1): use apiVersion: projectcalico.org/v3'],
    ],
    ['items that are not a list', 'apiVersion: projectcalico.org/v3\nkind: IPPoolList\nitems: {}\n', ['document 1, line 3, column 8: items: expected a list of resources']],
    [
      'an unknown field beside items',
      'apiVersion: projectcalico.org/v3\nkind: IPPoolList\nitem: []\nitems: []\n',
      ['document 1, line 3, column 1: item: unknown field "item" in IPPoolList'],
    ],
    [
      'a list of an unknown kind',
      'apiVersion: projectcalico.org/v3\nkind: HostEndpointList\nitems: []\n',
      [
        'document 1, line 2, column 7: kind: unknown resource type (HostEndpointList) and/or version (projectcalico.org/v3): known kinds are BGPConfiguration, BGPFilter, BGPPeer, IPAMConfiguration, IPPool, IPReservation, Node, NodeStatus, WorkloadEndpoint',
      ],
    ],
  ])('refuses %s', (_name, text, messages) => {
    expect(manifestErrors(text)).toEqual(messages);
  });

  it('reads a top-level YAML sequence of resources', () => {
    const result = parseManifest(`- ${pool('a', '10.0.0.0/16').trimEnd().replace(/\n/g, '\n  ')}\n- ${pool('b', '10.1.0.0/16').trimEnd().replace(/\n/g, '\n  ')}\n`);
    expect(result.errors).toEqual([]);
    expect(summary(result.resources)).toEqual(['IPPool(a) doc 1 at 1:3', 'IPPool(b) doc 1 at 7:3']);
  });

  it.each([
    ['a scalar document', 'hello\n', 'document 1, line 1, column 1: expected a resource: a mapping with apiVersion, kind, metadata and spec'],
    ['a scalar in a sequence', '- 1\n', 'document 1, line 1, column 3: expected a resource: a mapping with apiVersion, kind, metadata and spec'],
  ])('refuses %s', (_name, text, message) => {
    expect(manifestErrors(text)).toEqual([message]);
  });
});

describe('JSON', () => {
  const object = '{"apiVersion": "projectcalico.org/v3", "kind": "IPPool", "metadata": {"name": "a"}, "spec": {"cidr": "10.0.0.0/16"}}';
  it.each([
    ['an object', object, ['IPPool(a) doc 1 at 1:1']],
    ['an array', `[${object}, ${object.replace('"a"', '"b"')}]`, ['IPPool(a) doc 1 at 1:2', `IPPool(b) doc 1 at 1:${object.length + 4}`]],
    ['an object indented with tabs', '{\n\t"apiVersion": "projectcalico.org/v3",\n\t"kind": "IPPool",\n\t"metadata": {\n\t\t"name": "a"\n\t},\n\t"spec": {}\n}\n', ['IPPool(a) doc 1 at 1:1']],
    ['an array indented with tabs after a blank line', `\n[\n\t${object}\n]`, ['IPPool(a) doc 1 at 3:2']],
    ['a List', `{"apiVersion": "v1", "kind": "List", "items": [${object}]}`, ['IPPool(a) doc 1 at 1:48']],
  ])('%s', (_name, text, want) => {
    const result = parseManifest(text);
    expect(result.errors).toEqual([]);
    expect(summary(result.resources)).toEqual(want);
  });

  it('reports errors in tab-indented JSON at the line and column of the tab-indented text', () => {
    expect(manifestErrors('{\n\t"apiVersion": "projectcalico.org/v3",\n\t"kind": "IPPool",\n\t"metadata": {"name": "a"},\n\t"spec": {\n\t\t"natOutgoing": "true"\n\t}\n}\n', 'pool.json')).toEqual([
      'pool.json: document 1, line 6, column 18: spec.natOutgoing: expected true or false, got the string "true"',
    ]);
  });

  it('reports a JSON syntax error with its position', () => {
    expect(manifestErrors('{"apiVersion": "projectcalico.org/v3",\n "kind" "IPPool"}')[0]).toBe('document 1, line 2, column 9: YAML syntax error: Missing , or : between flow map items');
  });
});

describe('YAML syntax errors', () => {
  it.each([
    ['an unclosed quote', 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: "p\nspec: {}\n', ['document 1, line 6, column 1: YAML syntax error: Missing closing "quote']],
    ['a tab as indentation', 'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n\tname: p\n', ['document 1, line 4, column 1: YAML syntax error: Tabs are not allowed as indentation']],
    [
      'a key indented one space too far',
      'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: p\n spec: {}\n',
      ['document 1, line 5, column 1: YAML syntax error: All mapping items must start at the same column'],
    ],
    [
      'a duplicate key',
      'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p}\nspec:\n  ipipMode: Always\n  ipipMode: Never\n',
      ['document 1, line 6, column 3: YAML syntax error: Map keys must be unique: "ipipMode" is given more than once'],
    ],
    [
      'a duplicate key in a flow mapping',
      'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {name: p, name: q}\n',
      ['document 1, line 3, column 21: YAML syntax error: Map keys must be unique: "name" is given more than once'],
    ],
    [
      'an unquoted selector that starts with ! and goes on with ||',
      'apiVersion: projectcalico.org/v3\nkind: BGPPeer\nmetadata: {name: p}\nspec:\n  nodeSelector: !has(rr) || rack == "r1"\n',
      [
        'document 1, line 5, column 27: YAML syntax error: Block scalar header includes extra characters: ||; a value that starts with "!" must be quoted: nodeSelector: \'!has(rr) || rack == "r1"\'',
        'document 1, line 5, column 29: YAML syntax error: Not a YAML token: rack == "r1"',
      ],
    ],
  ])('%s', (_name, text, messages) => {
    const result = parseManifest(text);
    expect(result.resources).toEqual([]);
    expect(result.errors.map((e) => e.message)).toEqual(messages);
  });

  it('reports only the broken document and reads the others', () => {
    const result = parseManifest(`${pool('a', '10.0.0.0/16')}---\nkind: [\n---\n${pool('c', '10.2.0.0/16')}`);
    expect(summary(result.resources)).toEqual(['IPPool(a) doc 1 at 1:1', 'IPPool(c) doc 3 at 10:1']);
    expect(result.errors.map((e) => e.location)).toEqual([{ document: 2, line: 9, column: 1 }]);
  });
});

describe('values of the wrong type', () => {
  const ippool = (spec: string, metadata = '  name: p\n') => `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n${metadata}spec:\n${spec}`;
  it.each([
    ['a string where a bool is expected', ippool('  natOutgoing: "true"\n'), 'document 1, line 6, column 16: spec.natOutgoing: expected true or false, got the string "true"'],
    ['YAML 1.1 yes for a bool', ippool('  disabled: yes\n'), 'document 1, line 6, column 13: spec.disabled: expected true or false, got the string "yes"'],
    ['a number where a string is expected', ippool('  cidr: 10\n'), 'document 1, line 6, column 9: spec.cidr: expected a string, got number 10; quote it: "10"'],
    ['a bool label value', ippool('  cidr: 10.0.0.0/16\n', '  name: p\n  labels:\n    i-am-a-route-reflector: true\n'), 'document 1, line 6, column 29: metadata.labels.i-am-a-route-reflector: expected a string, got boolean true; quote it: "true"'],
    ['a number name', ippool('  cidr: 10.0.0.0/16\n', '  name: 1e3\n'), 'document 1, line 4, column 9: metadata.name: expected a string, got number 1e3; quote it: "1e3"'],
    ['an empty label value', ippool('  cidr: 10.0.0.0/16\n', '  name: p\n  labels:\n    rack:\n'), 'document 1, line 6, column 10: metadata.labels.rack: expected a string, got nothing'],
    ['a list label value', ippool('  cidr: 10.0.0.0/16\n', '  name: p\n  labels: {rack: [a]}\n'), 'document 1, line 5, column 18: metadata.labels.rack: expected a string, got a list'],
    ['a string where an integer is expected', ippool('  blockSize: "26"\n'), 'document 1, line 6, column 14: spec.blockSize: expected an integer, got the string "26"'],
    ['a fraction where an integer is expected', ippool('  blockSize: 26.5\n'), 'document 1, line 6, column 14: spec.blockSize: expected an integer, got number 26.5'],
    ['a string where a list is expected', ippool('  allowedUses: Workload\n'), 'document 1, line 6, column 16: spec.allowedUses: expected a list, got the string "Workload"'],
    ['a mapping where a string is expected', ippool('  nodeSelector: {a: b}\n'), 'document 1, line 6, column 17: spec.nodeSelector: expected a string, got a mapping'],
    ['a scalar where a mapping is expected', ippool('  5\n').replace('spec:\n  5', 'spec: 5'), 'document 1, line 5, column 7: spec: expected a mapping (IPPoolSpec), got number 5'],
    ['labels that are a list', ippool('  cidr: 10.0.0.0/16\n', '  name: p\n  labels: [a]\n'), 'document 1, line 5, column 11: metadata.labels: expected a mapping of strings, got a list'],
    ['a status on a kind without one', `${ippool('  cidr: 10.0.0.0/16\n')}status: {}\n`, 'document 1, line 7, column 1: status: unknown field "status" (IPPool fields: metadata, spec)'],
    [
      'a creation time that is not RFC 3339',
      ippool('  cidr: 10.0.0.0/16\n', '  name: p\n  creationTimestamp: yesterday\n'),
      'document 1, line 5, column 22: metadata.creationTimestamp: expected an RFC 3339 time such as 2024-01-02T15:04:05Z, got "yesterday"',
    ],
    [
      'a port number out of range',
      'apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {listenPort: 70000}\n',
      'document 1, line 4, column 20: spec.listenPort: 70000 is out of range 0-65535',
    ],
    ['a port protocol that is a list', `apiVersion: projectcalico.org/v3\nkind: WorkloadEndpoint\nmetadata: {namespace: default}\nspec:\n  ports: [{protocol: [TCP]}]\n`, 'document 1, line 5, column 22: spec.ports[0].protocol: expected a name or a number, got a list'],
    ['an unquoted ! in a label value', ippool('  cidr: 10.0.0.0/16\n', '  name: p\n  labels:\n    rack: !r1\n'), 'document 1, line 6, column 11: metadata.labels.rack: YAML reads the unquoted value !r1 as a tag, because it starts with "!"; quote it: rack: "!r1"'],
    ['an unquoted ! in a list item', ippool('  allowedUses:\n  - !Workload\n'), 'document 1, line 7, column 5: spec.allowedUses[0]: YAML reads the unquoted value !Workload as a tag, because it starts with "!"; quote it: - "!Workload"'],
    [
      'an unquoted ! selector with && and a quoted value',
      ippool("  nodeSelector: !has(edge) && rack == 'r1'  # edge nodes\n"),
      'document 1, line 6, column 17: spec.nodeSelector: YAML reads the unquoted value !has(edge) && rack == \'r1\' as a tag, because it starts with "!"; quote it: nodeSelector: "!has(edge) && rack == \'r1\'"',
    ],
  ])('%s', (_name, text, message) => {
    expect(manifestErrors(text)).toEqual([message]);
  });

  it('accepts numbers for a port protocol, as numorstring does', () => {
    const r = parseOne('apiVersion: projectcalico.org/v3\nkind: WorkloadEndpoint\nmetadata: {namespace: default}\nspec:\n  ports: [{name: a, protocol: 6}, {name: b, protocol: UDP}]\n').resource;
    expect(r.kind?.$case === 'workloadEndpoint' && r.kind.value.spec?.ports.map((p) => p.protocol)).toEqual(['6', 'UDP']);
  });

  it('reads an RFC 3339 creation time into a UTC time', () => {
    const r = parseOne('apiVersion: projectcalico.org/v3\nkind: Node\nmetadata:\n  name: n\n  creationTimestamp: "2024-01-02T17:04:05+02:00"\n').resource;
    expect(r.kind?.value.metadata?.creationTimestamp).toBe('2024-01-02T15:04:05.000Z');
  });

  it('leaves fields with no value unset', () => {
    const r = parseOne('apiVersion: projectcalico.org/v3\nkind: BGPConfiguration\nmetadata:\n  name: default\nspec:\n  nodeToNodeMeshEnabled:\n  asNumber: ~\n  logSeverityScreen:\n').resource;
    expect(r.kind?.$case === 'bgpConfiguration' && [r.kind.value.spec?.nodeToNodeMeshEnabled, r.kind.value.spec?.asNumber, r.kind.value.spec?.logSeverityScreen]).toEqual([undefined, undefined, '']);
  });
});

describe('locate(path)', () => {
  const text = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool-1
  labels:
    rack: r1
spec:
  cidr: 10.0.0.0/16
  allowedUses:
  - Workload
  - Tunnel
`;
  const r = parseOne(text);
  it.each([
    ['metadata', { line: 3, column: 1 }],
    ['metadata.name', { line: 4, column: 3 }],
    ['metadata.labels.rack', { line: 6, column: 5 }],
    ['spec.cidr', { line: 8, column: 3 }],
    ['spec.allowedUses', { line: 9, column: 3 }],
    ['spec.allowedUses[1]', { line: 11, column: 5 }],
    ['spec.ipipMode', undefined],
    ['spec.allowedUses[2]', undefined],
    ['apiVersion', undefined],
  ])('%s', (path, want) => {
    expect(r.locate(path)).toEqual(want);
  });

  it('positions the resource itself', () => {
    expect([r.document, r.position, r.kind.kind]).toEqual([1, { line: 1, column: 1 }, 'IPPool']);
  });

  it('does not take positions from a resource that failed before it (regression)', () => {
    const result = parseManifest(`apiVersion: projectcalico.org/v3
kind: IPPoolList
items:
- metadata: {name: a}
  spec: {cidr: 10.0.0.0/16, natOutgoing: true, bogus: 1}
- metadata: {name: b}
  spec: {cidr: 10.1.0.0/16}
`);
    expect(result.errors.map((e) => e.path)).toEqual(['spec.bogus']);
    const [b] = result.resources;
    expect([b.locate('spec.natOutgoing'), b.locate('spec.cidr'), b.locate('metadata.name')]).toEqual([undefined, { line: 7, column: 10 }, { line: 6, column: 14 }]);
  });
});

describe('ManifestError', () => {
  it.each([
    ['with a source', 'pool.yaml', 'pool.yaml: document 1, line 6, column 3: spec.cdir: unknown field'],
    ['from stdin', '-', '-: document 1, line 6, column 3: spec.cdir: unknown field'],
    ['without a source', undefined, 'document 1, line 6, column 3: spec.cdir: unknown field'],
  ])('%s puts the source, the position and the path before the problem', (_name, source, prefix) => {
    const [err] = parseManifest(pool('a', '10.0.0.0/16').replace('cidr', 'cdir'), source === undefined ? {} : { source }).errors;
    expect(err.message.startsWith(`${prefix} "cdir"`)).toBe(true);
    expect([err.name, err.reason, err.source, err.path, err.location]).toEqual(['ManifestError', 'invalid-argument', source, 'spec.cdir', { document: 1, line: 6, column: 3 }]);
    expect(isManifestError(err)).toBe(true);
  });

  it.each([
    [undefined, undefined, undefined, 'bad'],
    [{ document: 2, line: 3, column: 4 }, undefined, undefined, 'document 2, line 3, column 4: bad'],
    [undefined, 'spec.x', 'f.yaml', 'f.yaml: spec.x: bad'],
  ])('formats location %j, path %j, source %j as %j', (location, path, source, message) => {
    expect(new ManifestError('bad', location, path, source).message).toBe(message);
  });

  it('is not confused with other errors', () => {
    expect(isManifestError(new Error('x'))).toBe(false);
  });
});
