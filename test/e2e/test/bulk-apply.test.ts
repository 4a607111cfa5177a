/**
 * `tabbyctl apply -f` of thousands of documents against a real store (ApplyBatch): the same
 * calicoctl summary as one Apply per document, a bad document in the middle named by its
 * document and line while every other one is applied, documents that depend on earlier ones,
 * and the --progress bar on stderr.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessGroup, startService, tempDir, type ServiceProcess } from '@tabby/harness';
import { tabbyctl, type CliResult } from './transcript.js';

const group = new ProcessGroup();
const dir = tempDir('tabby-bulk-apply-');
let store: ServiceProcess;

beforeAll(async () => {
  store = await startService(group, 'store', ['--listen', '127.0.0.1:0', '--data-dir', `${dir.path}/store`]);
}, 30_000);

afterAll(async () => {
  await group.stopAll();
  dir.remove();
});

function run(args: readonly string[]): Promise<CliResult> {
  return tabbyctl(args, { cwd: dir.path, env: { TABBY_STORE_ADDR: store.address } });
}

/** A WorkloadEndpoint document of namespace `ns`: 15 lines. */
function endpoint(ns: string, i: number, ip = `10.60.${Math.floor(i / 250)}.${(i % 250) + 1}/32`): string {
  return `apiVersion: projectcalico.org/v3
kind: WorkloadEndpoint
metadata:
  name: node1-k8s-pod${i}-eth0
  namespace: ${ns}
  labels:
    app: bulk
spec:
  node: node1
  orchestrator: k8s
  pod: pod${i}
  endpoint: eth0
  interfaceName: cali${String(i).padStart(11, '0')}
  ipNetworks: [${ip}]
  profiles: [kns.${ns}]
`;
}

function file(name: string, docs: readonly string[]): string {
  writeFileSync(path.join(dir.path, name), docs.join('---\n'));
  return name;
}

async function names(ns: string): Promise<string[]> {
  const r = await run(['get', 'wep', '-n', ns, '-o', 'name']);
  expect(r.code).toBe(0);
  return r.stdout.split('\n').filter((l) => l !== '');
}

it('applies 3,000 documents with the summary of a loop of Apply, and again as updates', async () => {
  const f = file('bulk.yaml', Array.from({ length: 3000 }, (_, i) => endpoint('bulk', i)));
  const first = await run(['apply', '-f', f]);
  expect(first).toEqual({ code: 0, stdout: "Successfully applied 3000 'WorkloadEndpoint' resource(s)\n", stderr: '' });
  expect(await names('bulk')).toHaveLength(3000);
  // Applying the same file again updates every one (no change: same revisions), with the same words.
  const again = await run(['apply', '-f', f]);
  expect(again).toEqual({ code: 0, stdout: "Successfully applied 3000 'WorkloadEndpoint' resource(s)\n", stderr: '' });
});

it('names a bad document in the middle by its document and line, and applies every other one', async () => {
  const docs = Array.from({ length: 2500 }, (_, i) => endpoint('half', i));
  docs[1234] = endpoint('half', 1234, '10.60.999.1/32');
  const r = await run(['apply', '-f', file('half.yaml', docs)]);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe("Partial success: applied the first 2499 out of 2500 'WorkloadEndpoint' resources:\n");
  // Document 1235 starts after 1234 documents of 15 lines and their `---` lines.
  expect(r.stderr).toMatch(/^hit error\(s\): \[half\.yaml: document 1235, line 19745: error with field WorkloadEndpoint\.Spec\.IPNetworks\[0\] = '10\.60\.999\.1.*\]\n$/s);
  const stored = await names('half');
  expect(stored).toHaveLength(2499);
  expect(stored.filter((n) => n.endsWith('/node1-k8s-pod1234-eth0') || n === 'node1-k8s-pod1234-eth0')).toEqual([]);
  expect(stored.filter((n) => n.endsWith('/node1-k8s-pod1235-eth0') || n === 'node1-k8s-pod1235-eth0')).toHaveLength(1);
});

it('lets a document depend on an earlier one of the same file', async () => {
  const filter = `apiVersion: projectcalico.org/v3
kind: BGPFilter
metadata:
  name: bulk-filter
spec:
  exportV4:
  - action: Accept
    matchOperator: In
    cidr: 10.0.0.0/8
`;
  const peer = `apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: bulk-peer
spec:
  peerIP: 192.0.2.7
  asNumber: 64512
  filters: [bulk-filter]
`;
  const r = await run(['apply', '-f', file('filter-peer.yaml', [filter, peer])]);
  expect(r).toEqual({ code: 0, stdout: 'Successfully applied 2 resource(s)\n', stderr: '' });
  // The other order fails the peer alone: its filter does not exist yet when it is applied.
  await run(['delete', 'bgppeer', 'bulk-peer']);
  await run(['delete', 'bgpfilter', 'bulk-filter']);
  const reversed = await run(['apply', '-f', file('peer-filter.yaml', [peer, filter])]);
  expect(reversed.code).toBe(1);
  expect(reversed.stdout).toBe('Partial success: applied the first 1 out of 2 resources:\n');
  expect(reversed.stderr).toContain('peer-filter.yaml: document 1, line 1');
  expect(reversed.stderr).toContain('bulk-filter');
});

it('draws a progress bar on stderr with --progress (without it, stderr not being a terminal, there is none: above)', async () => {
  const f = file('progress.yaml', Array.from({ length: 2500 }, (_, i) => endpoint('progress', i)));
  const r = await run(['apply', '-f', f, '--progress']);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("Successfully applied 2500 'WorkloadEndpoint' resource(s)\n");
  const steps = r.stderr.split('\r').filter((s) => s !== '');
  expect(steps[0]).toBe('[------------------------------] 0/2,500 resources applied');
  expect(steps).toContain('[############------------------] 1,000/2,500 resources applied');
  expect(steps[steps.length - 1]).toBe('[##############################] 2,500/2,500 resources applied\n');
});
