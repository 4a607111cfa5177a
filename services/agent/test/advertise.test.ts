import { describe, expect, it } from 'vitest';
import { parseHostPort, type HostPort } from '@tabby/runtime';
import { advertisedAddress } from '../src/app.js';

const hp = (text: string): HostPort => {
  const r = parseHostPort(text);
  if ('error' in r) throw new Error(r.error);
  return r.value;
};

describe('advertisedAddress', () => {
  it('is the --listen host with the bound port', () => {
    expect(advertisedAddress(hp('127.0.0.1:0'), 40123, '127.0.0.11')).toBe('127.0.0.1:40123');
    expect(advertisedAddress(hp('[::1]:0'), 40123, '127.0.0.11')).toBe('[::1]:40123');
    expect(advertisedAddress(hp('agent.node1.example:50054'), 50054, '10.0.0.1')).toBe('agent.node1.example:50054');
  });

  it('replaces an unspecified listen host by the --bgp-address', () => {
    expect(advertisedAddress(hp('0.0.0.0:50054'), 50054, '10.0.0.1')).toBe('10.0.0.1:50054');
    expect(advertisedAddress(hp('[::]:0'), 40999, '10.0.0.1')).toBe('10.0.0.1:40999');
  });

  it('is --advertise-address when given', () => {
    expect(advertisedAddress(hp('0.0.0.0:50054'), 50054, '10.0.0.1', hp('192.0.2.7:443'))).toBe('192.0.2.7:443');
  });
});
