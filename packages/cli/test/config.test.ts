import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError, resolveConfig } from '../src/index.js';
import { topologyTarget } from '../src/topology-client.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tabbyctl-config-'));
const file = path.join(dir, 'tabbyctl.yaml');
writeFileSync(file, 'store: 10.9.9.9:50051\ntls:\n  ca: ca.pem\n');

describe('resolveConfig', () => {
  it('defaults to 127.0.0.1:50051', () => {
    expect(resolveConfig({}, { HOME: '/nonexistent' })).toMatchObject({ store: '127.0.0.1:50051', source: 'the default' });
  });

  it('reads the config file, then TABBY_* variables, then flags', () => {
    expect(resolveConfig({ config: file }, {})).toMatchObject({ store: '10.9.9.9:50051', tls: { ca: path.join(dir, 'ca.pem') } });
    expect(resolveConfig({}, { TABBY_CONFIG: file, TABBY_STORE_ADDR: '127.0.0.2:1' })).toMatchObject({ store: '127.0.0.2:1', source: 'TABBY_STORE_ADDR' });
    expect(resolveConfig({ store: '127.0.0.3:2' }, { TABBY_CONFIG: file, TABBY_STORE_ADDR: '127.0.0.2:1' })).toMatchObject({ store: '127.0.0.3:2', source: '--store' });
  });

  it('resolves the ipam address like the store address', () => {
    expect(resolveConfig({}, { HOME: '/nonexistent' }).ipam).toBe('127.0.0.1:50052');
    const withIpam = path.join(dir, 'with-ipam.yaml');
    writeFileSync(withIpam, 'store: 10.9.9.9:50051\nipam: 10.9.9.9:50052\n');
    expect(resolveConfig({ config: withIpam }, {}).ipam).toBe('10.9.9.9:50052');
    expect(resolveConfig({ config: withIpam }, { TABBY_IPAM_ADDR: '127.0.0.2:2' }).ipam).toBe('127.0.0.2:2');
    expect(resolveConfig({ config: withIpam, ipam: '127.0.0.3:3' }, { TABBY_IPAM_ADDR: '127.0.0.2:2' }).ipam).toBe('127.0.0.3:3');
  });

  it('takes topology replicas as a comma list or a YAML list', () => {
    const withList = path.join(dir, 'with-topology-list.yaml');
    writeFileSync(withList, 'topology:\n  - 10.9.9.9:50053\n  - 10.9.9.10:50053\n');
    expect(resolveConfig({ config: withList }, {}).topology).toBe('10.9.9.9:50053,10.9.9.10:50053');
    expect(resolveConfig({ config: withList }, { TABBY_TOPOLOGY_ADDR: '127.0.0.2:1,127.0.0.3:1' }).topology).toBe('127.0.0.2:1,127.0.0.3:1');
    expect(topologyTarget('127.0.0.2:1,127.0.0.3:1')).toBe('ipv4:127.0.0.2:1,127.0.0.3:1');
    expect(topologyTarget('topology.example:50053')).toBe('topology.example:50053');
    expect(() => topologyTarget('127.0.0.2:1,topology.example:50053')).toThrow(CliError);
    expect(() => topologyTarget('127.0.0.2:1,topology.example:50053')).toThrow('topology address: "topology.example:50053" in the list');
  });

  it('finds ~/.tabby/tabbyctl.yaml', () => {
    const home = mkdtempSync(path.join(tmpdir(), 'tabbyctl-home-'));
    const cfgDir = path.join(home, '.tabby');
    mkdirSync(cfgDir, { recursive: true });
    writeFileSync(path.join(cfgDir, 'tabbyctl.yaml'), 'store: 127.0.0.9:50051\n');
    expect(resolveConfig({}, { HOME: home }).store).toBe('127.0.0.9:50051');
  });

  it.each([
    ['stor: x\n', 'unknown key "stor" (known: store, ipam, topology, tls)'],
    ['ipam: 5\n', 'ipam must be HOST:PORT'],
    ['topology: [5]\n', 'topology must be HOST:PORT, or a list of IP:PORT (its replicas)'],
    ['topology: []\n', 'topology must be HOST:PORT, or a list of IP:PORT (its replicas)'],
    ['store: 5\n', 'store must be HOST:PORT'],
    ['tls:\n  cacert: x\n', 'unknown key "tls.cacert" (known: ca, cert, key)'],
  ])('refuses %j naming the file and key', (text, message) => {
    const bad = path.join(dir, `bad-${Math.random()}.yaml`);
    writeFileSync(bad, text);
    expect(() => resolveConfig({ config: bad }, {})).toThrow(`config file ${bad}: ${message}`);
  });

  it('says when an explicit config file is missing', () => {
    expect(() => resolveConfig({ config: '/nonexistent.yaml' }, {})).toThrow('config file /nonexistent.yaml does not exist');
  });
});

