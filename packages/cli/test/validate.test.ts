/**
 * `tabbyctl validate -f`, run as the real command with no server anywhere: a store address
 * where nothing listens proves it never dials one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/tabbyctl.js', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'tabby-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tabbyctl(args: string[], stdin?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--store', '127.0.0.1:9', ...args], { cwd: dir, input: stdin, encoding: 'utf8', env: { ...process.env, TABBY_CONFIG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const POOL_A = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool-a
spec:
  cidr: 10.0.0.0/16
`;

describe('tabbyctl validate', () => {
  it('accepts valid resources of several kinds and says how many, as the write commands do', () => {
    writeFileSync(
      path.join(dir, 'ok.yaml'),
      `${POOL_A}---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: rack1-tor
spec:
  peerIP: 192.20.30.40
  asNumber: 64567
`,
    );
    const r = tabbyctl(['validate', '-f', 'ok.yaml']);
    expect(r).toEqual({ code: 0, stdout: 'Successfully validated 2 resource(s)\n', stderr: '' });
  });

  it('names the file, document and the line and column of each bad field, and checks every document', () => {
    writeFileSync(
      path.join(dir, 'bad.yaml'),
      `${POOL_A}---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool-b
spec:
  cidr: 10.1.0.0/16
  blockSize: 40
  ipipMode: Always
  vxlanMode: Always
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pool-c
spec:
  cidr: 10.0.64.0/18
---
apiVersion: projectcalico.org/v3
kind: BGPPeer
metadata:
  name: peer1
spec:
  peerIP: 192.20.30.40:x
`,
    );
    const r = tabbyctl(['validate', '-f', 'bad.yaml']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        'bad.yaml: document 2, line 8: IPPool(pool-b) is not valid:',
        "  line 14, column 3: spec.blockSize: IPPool.Spec.BlockSize = '40' (IPv4 block size must be between 20 and 32)",
        "  line 16, column 3: spec.vxlanMode: IPPool.Spec.VXLANMode = 'Always' (Cannot enable both VXLAN and IPIP on the same IPPool)",
        'bad.yaml: document 3, line 18: IPPool(pool-c) is not valid:',
        "  line 23, column 3: spec.cidr: IPPool.Spec.CIDR = '10.0.64.0/18' (IPPool(pool-c) CIDR overlaps with IPPool(pool-a) CIDR 10.0.0.0/16)",
        'bad.yaml: document 4, line 25: BGPPeer(peer1) is not valid:',
        "  line 30, column 3: spec.peerIP: BGPPeer.Spec.PeerIP = '192.20.30.40:x' (PeerIP must be an IP address, <IPv4>:<port> or [<IPv6>]:<port>, with a port from 1 to 65535)",
        '3 of 4 resource(s) not valid',
        '',
      ].join('\n'),
    );
  });

  it('reports what the parser refuses (unknown fields, namespaces) with its place, reading stdin', () => {
    const unknown = tabbyctl(['validate', '-f', '-'], `${POOL_A}  bogus: 1\n`);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^failed to execute command: stdin: document 1, line 7, column 3: spec\.bogus: unknown field "bogus"/);
    const ns = tabbyctl(['validate', '-f', '-', '-n', 'prod'], POOL_A);
    expect(ns).toMatchObject({ code: 1, stderr: 'stdin: document 1, line 1: IPPool(pool-a): IPPool is not namespaced\n1 of 1 resource(s) not valid\n' });
  });

  it('needs -f, and refuses an empty input unless --skip-empty', () => {
    expect(tabbyctl(['validate']).code).not.toBe(0);
    writeFileSync(path.join(dir, 'empty.yaml'), '# nothing\n');
    expect(tabbyctl(['validate', '-f', 'empty.yaml'])).toMatchObject({ code: 1, stderr: expect.stringContaining('no resources specified in file empty.yaml') as unknown });
    expect(tabbyctl(['validate', '-f', 'empty.yaml', '--skip-empty']).code).toBe(0);
  });
});
