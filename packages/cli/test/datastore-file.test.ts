import { parseManifest } from '@tabby/api';
import type { DatastoreRecord, DatastoreStatusResponse } from '@tabby/proto';
import { describe, expect, it } from 'vitest';
import { statusText } from '../src/commands/datastore.js';
import { DatastoreFileError, decodeDatastoreFile, encodeDatastoreFile } from '../src/datastore-yaml.js';

const pool = parseManifest('apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: blue\n  uid: 6f1c2a3e-1111-4222-8333-444455556666\n  creationTimestamp: 2026-12-01T10:00:00Z\n  finalizers: [ipam.tabby.io/allocations]\nspec:\n  cidr: 10.77.0.0/16\n').resources[0].resource;

const block: DatastoreRecord = {
  record: {
    $case: 'ipamBlock',
    value: {
      cidr: '10.77.1.0/30',
      affinity: 'host:n1',
      strictAffinity: false,
      allocations: [0, -1, 0, -1],
      unallocated: [3, 1],
      attributes: [{ handleId: 'workload:default/w1', secondary: { pod: 'w1', namespace: 'default', node: 'n1', timestamp: '2026-12-01T10:00:00.000Z' } }],
      deleted: false,
      sequenceNumber: 4,
      sequenceNumberForAllocation: { '0': 1, '2': 2 },
      poolCidr: '10.77.0.0/16',
    },
  },
};

const records: DatastoreRecord[] = [
  { record: { $case: 'resource', value: pool } },
  { record: { $case: 'ipamConfig', value: { strictAffinity: false, autoAllocateBlocks: true, maxBlocksPerHost: 20 } } },
  block,
  { record: { $case: 'ipamAffinity', value: { node: 'n1', cidr: '10.77.1.0/30', state: 'confirmed' } } },
  { record: { $case: 'ipamHandle', value: { handleId: 'workload:default/w1', block: { '10.77.1.0/30': 2 } } } },
];

describe('the datastore migrate file', () => {
  it('reads back what it writes: resources with uid, time and finalizers, and every IPAM field', () => {
    const text = encodeDatastoreFile(['a header'], records);
    expect(text).toMatch(/^# a header\n---\napiVersion: projectcalico.org\/v3\nkind: IPPool\n/);
    expect(text).toContain('  allocations: [0, null, 0, null]\n  unallocated: [3, 1]\n');
    expect(text).toContain('  - handle_id: workload:default/w1\n    secondary: {namespace: default, node: n1, pod: w1, timestamp: 2026-12-01T10:00:00.000Z}\n');
    const back = decodeDatastoreFile(text, 'f.yaml');
    expect(back.resources).toEqual([records[0]]);
    expect(back.ipam).toEqual(records.slice(1));
  });

  it('gives a block without the pool annotation the pool of the file that contains it', () => {
    const text = encodeDatastoreFile([], records).replace(/ {4}ipam\.tabby\.io\/pool-cidr: .*\n/, '').replace('  annotations:\n', '');
    const back = decodeDatastoreFile(text, 'f.yaml');
    const b = back.ipam.find((r) => r.record?.$case === 'ipamBlock');
    expect(b?.record?.$case === 'ipamBlock' && b.record.value.poolCidr).toBe('10.77.0.0/16');
  });

  it.each([
    ['a YAML error in a resource', (t: string) => t.replace('cidr: 10.77.0.0/16', 'cidr: [10.77.0.0/16'), /^f\.yaml: .*line 1[0-9]/],
    ['an unknown IPAM field', (t: string) => t.replace('  strictAffinity: false\n  allocations', '  strictAfinity: false\n  allocations'), /^f\.yaml: document 3 \(line \d+\): IPAMBlock: spec\.strictAfinity: unknown field of IPAMBlock$/],
    ['a negative ordinal', (t: string) => t.replace('unallocated: [3, 1]', 'unallocated: [3, -1]'), /^f\.yaml: document 3 \(line \d+\): IPAMBlock: spec\.unallocated\[1\]: expected a whole number ≥ 0, found -1$/],
    ['an unknown IPAM kind', (t: string) => t.replace('kind: IPAMHandle', 'kind: IPAMHandel'), /^f\.yaml: document 5 \(line \d+\): IPAMHandel: kind IPAMHandel is not an IPAM kind/],
  ])('names the document and line of %s', (_what, edit, message) => {
    const text = edit(encodeDatastoreFile(['h'], records));
    expect(() => decodeDatastoreFile(text, 'f.yaml')).toThrow(DatastoreFileError);
    expect(() => decodeDatastoreFile(text, 'f.yaml')).toThrow(message);
  });
});

describe('datastore status', () => {
  const base: Omit<DatastoreStatusResponse, 'service' | 'datastore' | 'location' | 'counts'> = {
    revision: 12,
    etcdRevision: 40,
    locked: false,
    etcdClusterId: 'cafe',
    members: [{ id: 'e3', name: 'etcd1', clientUrls: ['http://127.0.0.1:2379'], peerUrls: ['http://127.0.0.1:2380'], leader: true, learner: false }],
    importPending: 0,
  };
  it('prints the services, the etcd members once per cluster, and the counts', () => {
    const text = statusText([
      { ...base, service: 'tabby-store', datastore: 'etcd', location: 'http://127.0.0.1:2379', counts: [{ kind: 'IPPool', count: 1 }] },
      { ...base, service: 'tabby-ipam', datastore: 'etcd', location: 'http://127.0.0.1:2379', revision: 3, locked: true, importPending: 150, counts: [{ kind: 'IPAMBlock', count: 2 }] },
    ]);
    expect(text).toBe(
      [
        'SERVICE       DATASTORE   REVISION   LOCKED                           LOCATION                ',
        'tabby-store   etcd        12         no                               http://127.0.0.1:2379   ',
        'tabby-ipam    etcd        3          yes (import stopped after 150)   http://127.0.0.1:2379   ',
        '',
        'etcd cluster cafe, revision 40:',
        'MEMBER   ID   CLIENT URLS             PEER URLS               LEADER   ',
        'etcd1    e3   http://127.0.0.1:2379   http://127.0.0.1:2380   yes      ',
        '',
        'SERVICE       KIND        COUNT   ',
        'tabby-store   IPPool      1       ',
        'tabby-ipam    IPAMBlock   2       ',
        '',
      ].join('\n'),
    );
  });
});
