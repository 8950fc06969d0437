import { lsnValue } from './read-replicas.js';

describe('WAL positions', () => {
  it('compares LSNs as numbers, across the 32-bit halves', () => {
    expect(lsnValue('0/16B3748')).toBe(0x16b3748n);
    expect(lsnValue('1/0') > lsnValue('0/FFFFFFFF')).toBe(true);
    expect(lsnValue('16/B374D848') - lsnValue('16/B374D840')).toBe(8n);
  });
});
