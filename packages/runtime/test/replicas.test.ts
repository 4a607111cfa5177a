import { describe, expect, it } from 'vitest';
import { ConfigError, grpcTarget } from '../src/index.js';

describe('grpcTarget', () => {
  it.each([
    ['127.0.0.1:50053', '127.0.0.1:50053'],
    ['topology.tabby.svc:50053', 'topology.tabby.svc:50053'],
    [' 127.0.0.1:50053 , ', '127.0.0.1:50053'],
    ['127.0.0.1:5001,127.0.0.2:5002', 'ipv4:127.0.0.1:5001,127.0.0.2:5002'],
    ['127.0.0.1:5001, 127.0.0.2:5002,', 'ipv4:127.0.0.1:5001,127.0.0.2:5002'],
    ['[::1]:5001,[fd00::2]:5002', 'ipv6:[::1]:5001,[fd00::2]:5002'],
  ] as const)('%s → %s', (raw, target) => {
    expect(grpcTarget(raw, '--topology')).toBe(target);
  });

  it.each([
    ['', '--topology: no address given'],
    ['127.0.0.1:5001,topology.example:5002', '--topology: "topology.example:5002" in the list "127.0.0.1:5001,topology.example:5002" is not IP:PORT ([IPv6]:PORT)'],
    ['127.0.0.1:5001,127.0.0.2', '--topology: "127.0.0.2" in the list'],
    ['127.0.0.1:5001,127.0.0.2:70000', '--topology: port 70000 of "127.0.0.2:70000" is out of range 1-65535'],
    ['127.0.0.1:5001,[::1]:5002', '--topology: the list "127.0.0.1:5001,[::1]:5002" mixes IPv4 and IPv6 addresses'],
  ] as const)('%j is refused: %s', (raw, message) => {
    let err: unknown;
    try {
      grpcTarget(raw, '--topology');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(message);
  });
});
