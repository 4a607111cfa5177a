/** Connection collision (RFC 4271 §6.8): the pure rule and the two-instance driver flow. */
import { describe, expect, it } from 'vitest';
import {
  bgpIdentifierToUint32,
  isFsmInvariantError,
  resolveCollision,
  startCollisionCandidate,
  step,
  type CollisionResolution,
  type FsmSnapshot,
} from '../../../src/fsm/index.js';
import { A, reach, run } from './helpers.js';

describe('resolveCollision: keep the connection initiated by the higher BGP Identifier', () => {
  it.each<{ local: string; remote: string; close: CollisionResolution }>([
    { local: '10.0.0.2', remote: '10.0.0.1', close: 'close-inbound' },
    { local: '10.0.0.1', remote: '10.0.0.2', close: 'close-outbound' },
    // Unsigned 32-bit: a signed comparison would put 200.x below 100.x.
    { local: '200.0.0.1', remote: '100.0.0.1', close: 'close-inbound' },
    { local: '128.0.0.0', remote: '127.255.255.255', close: 'close-inbound' },
    { local: '255.255.255.255', remote: '0.0.0.1', close: 'close-inbound' },
    // Numeric, not lexical: "10" < "9" as text.
    { local: '9.255.255.255', remote: '10.0.0.0', close: 'close-outbound' },
    { local: '1.2.3.4', remote: '1.2.3.5', close: 'close-outbound' },
  ])('local $local, remote $remote → $close', ({ local, remote, close }) => {
    expect(resolveCollision(local, remote)).toBe(close);
  });

  it('is antisymmetric', () => {
    expect(resolveCollision('192.0.2.1', '198.51.100.1')).toBe('close-outbound');
    expect(resolveCollision('198.51.100.1', '192.0.2.1')).toBe('close-inbound');
  });

  it.each([
    { local: '10.0.0.1', remote: '10.0.0.1' }, // equal identifiers cannot collide (RFC 6286 tie-break unsupported)
    { local: '10.0.0', remote: '10.0.0.1' },
    { local: '10.0.0.1', remote: '256.0.0.1' },
    { local: 'a.b.c.d', remote: '10.0.0.1' },
  ])('throws FsmInvariantError for $local vs $remote', ({ local, remote }) => {
    let caught: unknown;
    try {
      resolveCollision(local, remote);
    } catch (err) {
      caught = err;
    }
    expect(isFsmInvariantError(caught)).toBe(true);
  });

  it.each([
    { id: '0.0.0.0', value: 0 },
    { id: '0.0.0.1', value: 1 },
    { id: '1.0.0.0', value: 16_777_216 },
    { id: '255.255.255.255', value: 4_294_967_295 },
    { id: '1.2.3', value: null },
    { id: '1.2.3.4.5', value: null },
    { id: '', value: null },
  ])('bgpIdentifierToUint32($id) = $value', ({ id, value }) => {
    expect(bgpIdentifierToUint32(id)).toBe(value);
  });
});

describe('two FSM instances for one peer (driver flow)', () => {
  const LOCAL_ID = '10.0.0.1';

  /** The primary connected out and sits in OpenConfirm; an inbound connection arrives. */
  function setup(): { primary: FsmSnapshot; candidate: FsmSnapshot } {
    const primary = reach('OpenConfirm');
    const started = startCollisionCandidate(primary);
    expect(started.transition).toEqual({ from: 'Active', to: 'OpenSent', reason: 'tcp-accepted' });
    expect(started.actions).toEqual([A.sendOpen(), A.start('hold', 240_000)]);
    return { primary, candidate: started.state };
  }

  it('the candidate carries the primary configuration and backoff count', () => {
    const primary = { ...reach('OpenSent', { holdTimeS: 30 }), consecutiveFailures: 3 };
    const { state } = startCollisionCandidate(primary);
    expect(state.config).toBe(primary.config);
    expect(state.consecutiveFailures).toBe(3);
    expect(state.connectRetryCounter).toBe(0);
  });

  it('peer has the higher ID: the outbound primary is dumped, the inbound candidate proceeds', () => {
    const { primary, candidate } = setup();
    const verdict = resolveCollision(LOCAL_ID, '10.0.0.9');
    expect(verdict).toBe('close-outbound'); // the primary is the outbound connection

    const dumped = step(primary, { type: 'OpenCollisionDump' });
    expect(dumped.transition).toEqual({ from: 'OpenConfirm', to: 'Idle', reason: 'collision' });
    expect(dumped.actions).toEqual([A.notify(6, 7), A.drop, A.stop('hold'), A.stop('keepalive')]); // no idle hold
    expect(dumped.state.timers['idle-hold']).toBe(false);

    const survivor = run(candidate, [{ type: 'BGPOpen', holdTimeS: 90 }, { type: 'KeepAliveMsg' }]);
    expect(survivor.state).toBe('Established');
  });

  it('we have the higher ID: the inbound candidate is dumped at its OPEN', () => {
    const { primary, candidate } = setup();
    expect(resolveCollision('10.0.0.9', LOCAL_ID)).toBe('close-inbound');
    const dumped = step(candidate, { type: 'OpenCollisionDump' });
    expect(dumped.transition).toEqual({ from: 'OpenSent', to: 'Idle', reason: 'collision' });
    expect(dumped.actions).toEqual([A.notify(6, 7), A.drop, A.stop('hold')]);
    expect(step(primary, { type: 'KeepAliveMsg' }).state.state).toBe('Established');
  });

  it('Established wins: a late connection is dumped, the session is untouched', () => {
    const primary = reach('Established');
    const candidate = startCollisionCandidate(primary).state;
    expect(step(primary, { type: 'TcpConnectionConfirmed' }).actions).toEqual([]); // ignored by the primary
    expect(step(candidate, { type: 'OpenCollisionDump' }).state.state).toBe('Idle');
  });
});
