import { describe, expect, it } from 'vitest';
import { CeaseSubcode, ErrorCode, NOTIFICATION_TABLE, UpdateSubcode, describeNotification } from '../../../src/codec/index.js';

describe('describeNotification', () => {
  it.each([
    [4, 0, 'Hold Timer Expired'],
    [3, 11, 'UPDATE Message Error / Malformed AS_PATH'],
    [6, 2, 'Cease / Administrative Shutdown'],
    [6, 4, 'Cease / Administrative Reset'],
    [6, 0, 'Cease'],
    [1, 1, 'Message Header Error / Connection Not Synchronized'],
    [1, 2, 'Message Header Error / Bad Message Length'],
    [2, 1, 'OPEN Message Error / Unsupported Version Number'],
    [2, 6, 'OPEN Message Error / Unacceptable Hold Time'],
    [2, 0, 'OPEN Message Error / Unspecific'],
    [3, 3, 'UPDATE Message Error / Missing Well-known Attribute'],
    [5, 2, 'Finite State Machine Error / Receive Unexpected Message in OpenConfirm State'],
    [7, 1, 'ROUTE-REFRESH Message Error / Invalid Message Length'],
    [3, 99, 'UPDATE Message Error / subcode 99'],
    [9, 1, 'Unknown Error Code 9 / subcode 1'],
  ])('%i/%i → %s', (code, subcode, text) => {
    expect(describeNotification(code, subcode)).toBe(text);
  });

  it('names every constant in the one table', () => {
    expect(NOTIFICATION_TABLE.get(ErrorCode.UPDATE_MESSAGE)?.subcodes.get(UpdateSubcode.INVALID_NETWORK_FIELD)).toBe('Invalid Network Field');
    for (const v of Object.values(CeaseSubcode)) expect(NOTIFICATION_TABLE.get(ErrorCode.CEASE)?.subcodes.has(v)).toBe(true);
    for (const v of Object.values(UpdateSubcode)) expect(NOTIFICATION_TABLE.get(ErrorCode.UPDATE_MESSAGE)?.subcodes.has(v)).toBe(true);
  });
});
