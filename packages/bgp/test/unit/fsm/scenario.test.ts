/**
 * End-to-end scenarios driven by a fake clock that fires the timers the FSM asks for:
 * the happy path to Established, hold timer expiry, automatic restart with backoff, and the
 * backoff reset after a stable session.
 */
import { describe, expect, it } from 'vitest';
import { FakeDriver } from './fake-driver.js';

function establish(d: FakeDriver, peerHoldTimeS = 90): void {
  d.feed({ type: 'TcpCrAcked' });
  d.feed({ type: 'BGPOpen', holdTimeS: peerHoldTimeS });
  d.feed({ type: 'KeepAliveMsg' });
}

describe('happy path, hold timer expiry and automatic restart', () => {
  it('Idle → Connect → OpenSent → OpenConfirm → Established → Idle → Connect', () => {
    const d = new FakeDriver();
    d.feed({ type: 'ManualStart' });
    expect(d.sent('connect')).toEqual([0]);
    expect(d.deadlines()).toEqual({ 'connect-retry': 120_000 });

    d.advance(1_000);
    establish(d);
    expect(d.snapshot.state).toBe('Established');
    expect(d.effects.map((e) => e.action.type)).toEqual(['connect', 'sendOpen', 'sendKeepalive', 'sessionUp']);
    expect(d.deadlines()).toEqual({ keepalive: 31_000, hold: 91_000, stable: 301_000 });

    // The peer goes silent: keepalives go out every 30 s until the hold timer fires at 91 s.
    d.advance(89_999);
    expect(d.snapshot.state).toBe('Established');
    expect(d.sent('sendKeepalive')).toEqual([1_000, 31_000, 61_000]);
    d.advance(1);
    expect(d.snapshot.state).toBe('Idle');
    expect(d.sent('sendKeepalive')).toEqual([1_000, 31_000, 61_000]); // the hold timer won the tie at 91 s
    expect(d.effects.filter((e) => e.at === 91_000).map((e) => e.action)).toEqual([
      { type: 'sendNotification', notification: { code: 4, subcode: 0, data: new Uint8Array(0) } },
      { type: 'drop' },
      { type: 'sessionDown', reason: 'hold-timer-expired' },
    ]);
    expect(d.deadlines()).toEqual({ 'idle-hold': 96_000 });

    // Automatic restart after the first idle hold (5 s).
    d.advance(4_999);
    expect(d.snapshot.state).toBe('Idle');
    d.advance(1);
    expect(d.snapshot.state).toBe('Connect');
    expect(d.sent('connect')).toEqual([0, 96_000]);

    expect(d.log).toEqual([
      'Idle → Connect (manual-start)',
      'Connect → OpenSent (tcp-connected)',
      'OpenSent → OpenConfirm (open-received)',
      'OpenConfirm → Established (keepalive-received)',
      'Established → Idle (hold-timer-expired)',
      'Idle → Connect (idle-hold-expired)',
    ]);
  });

  it('keeps the session up while the peer keeps talking', () => {
    const d = new FakeDriver();
    d.feed({ type: 'ManualStart' });
    establish(d);
    for (let i = 0; i < 100; i++) {
      d.advance(20_000);
      d.feed(i % 2 === 0 ? { type: 'KeepAliveMsg' } : { type: 'UpdateMsg' });
    }
    expect(d.snapshot.state).toBe('Established');
    expect(d.sent('sendKeepalive')).toHaveLength(1 + Math.floor(2_000_000 / 30_000));
  });

  it('an UPDATE we send postpones the next KEEPALIVE', () => {
    const d = new FakeDriver();
    d.feed({ type: 'ManualStart' });
    establish(d);
    d.advance(20_000);
    d.feed({ type: 'UpdateMsgSent' });
    d.feed({ type: 'KeepAliveMsg' });
    d.advance(29_999);
    expect(d.sent('sendKeepalive')).toEqual([0]);
    d.advance(1);
    expect(d.sent('sendKeepalive')).toEqual([0, 50_000]);
  });

  it('hold time 0: no keepalives, no hold timer, the session stays up silently', () => {
    const d = new FakeDriver({ holdTimeS: 0 });
    d.feed({ type: 'ManualStart' });
    establish(d, 90);
    expect(d.snapshot.negotiated).toEqual({ holdTimeS: 0, keepaliveTimeS: 0 });
    d.advance(10_000_000);
    expect(d.snapshot.state).toBe('Established');
    expect(d.sent('sendKeepalive')).toEqual([0]); // only the one answering the OPEN
  });

  it('OpenSent gives up after the large hold time (4 minutes)', () => {
    const d = new FakeDriver();
    d.feed({ type: 'ManualStart' });
    d.feed({ type: 'TcpCrAcked' });
    d.advance(239_999);
    expect(d.snapshot.state).toBe('OpenSent');
    d.advance(1);
    expect(d.log.at(-1)).toBe('OpenSent → Idle (hold-timer-expired)');
  });

  it('Connect retries every ConnectRetryTime while the peer does not answer', () => {
    const d = new FakeDriver();
    d.feed({ type: 'ManualStart' });
    d.advance(360_000);
    expect(d.snapshot.state).toBe('Connect');
    expect(d.sent('connect')).toEqual([0, 120_000, 240_000, 360_000]);
    expect(d.sent('drop')).toEqual([120_000, 240_000, 360_000]);
  });

  it('a passive peer waits in Active without ever connecting', () => {
    const d = new FakeDriver({ passive: true });
    d.feed({ type: 'ManualStart' });
    d.advance(10_000_000);
    expect(d.snapshot.state).toBe('Active');
    expect(d.sent('connect')).toEqual([]);
    d.feed({ type: 'TcpConnectionConfirmed' });
    d.feed({ type: 'BGPOpen', holdTimeS: 90 });
    d.feed({ type: 'KeepAliveMsg' });
    expect(d.snapshot.state).toBe('Established');
    d.feed({ type: 'TcpConnectionFails' });
    d.advance(5_000);
    expect(d.log.slice(-2)).toEqual(['Established → Idle (tcp-failed)', 'Idle → Active (idle-hold-expired)']);
    expect(d.sent('connect')).toEqual([]);
  });
});

describe('backoff', () => {
  it('doubles per consecutive failure up to the maximum', () => {
    const d = new FakeDriver({ idleHold: { initialMs: 1_000, maxMs: 10_000 } });
    d.feed({ type: 'ManualStart' });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      d.feed({ type: 'TcpConnectionFails' });
      const restartAt = d.deadlines()['idle-hold']!;
      delays.push(restartAt - d.now);
      d.advance(restartAt - d.now);
      expect(d.snapshot.state).toBe('Connect');
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    expect(d.snapshot.consecutiveFailures).toBe(6);
  });

  it('a session that stays Established for resetAfterMs clears the count', () => {
    const d = new FakeDriver({ idleHold: { initialMs: 1_000, maxMs: 60_000, resetAfterMs: 120_000 } });
    d.feed({ type: 'ManualStart' });
    for (let i = 0; i < 3; i++) {
      d.feed({ type: 'TcpConnectionFails' });
      d.advance(60_000);
    }
    expect(d.snapshot.consecutiveFailures).toBe(3);

    // Up, but flapping before resetAfterMs: the count keeps growing.
    establish(d);
    d.advance(60_000);
    d.feed({ type: 'NotifMsg' });
    expect(d.snapshot.consecutiveFailures).toBe(4);
    expect(d.deadlines()['idle-hold']! - d.now).toBe(8_000);
    d.advance(8_000);

    // Up and stable: the stable timer clears it, so the next failure starts over at 1 s.
    establish(d);
    for (let t = 0; t < 120_000; t += 20_000) {
      d.advance(20_000);
      d.feed({ type: 'KeepAliveMsg' });
    }
    expect(d.snapshot.consecutiveFailures).toBe(0);
    d.feed({ type: 'TcpConnectionFails' });
    expect(d.deadlines()['idle-hold']! - d.now).toBe(1_000);
  });

  it('ManualStop cancels the pending restart and clears the count; ManualStart starts at once', () => {
    const d = new FakeDriver();
    d.feed({ type: 'ManualStart' });
    d.feed({ type: 'TcpConnectionFails' });
    d.advance(5_000);
    d.feed({ type: 'TcpConnectionFails' });
    expect(d.snapshot.consecutiveFailures).toBe(2);
    d.feed({ type: 'ManualStop' });
    expect(d.deadlines()).toEqual({});
    expect(d.snapshot.consecutiveFailures).toBe(0);
    d.advance(1_000_000);
    expect(d.snapshot.state).toBe('Idle');
    d.feed({ type: 'ManualStart' });
    expect(d.snapshot.state).toBe('Connect');
  });

  it('a manual stop of a running session does not restart it', () => {
    const d = new FakeDriver();
    d.feed({ type: 'ManualStart' });
    establish(d);
    d.feed({ type: 'ManualStop' });
    d.advance(10_000_000);
    expect(d.snapshot.state).toBe('Idle');
    expect(d.log.at(-1)).toBe('Established → Idle (manual-stop)');
  });
});
