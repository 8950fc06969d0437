import { ConfigError } from '../../config/config.js';
import { loadOpeningNightConfig } from './config.js';

const BASE = 'https://hub.example.org';

describe('opening-night config: admission mail', () => {
  it('mails on admission by default exactly when the hub can send mail', () => {
    expect(loadOpeningNightConfig(BASE, {}, { smtpConfigured: true }).notifyOnAdmission).toBe(true);
    expect(loadOpeningNightConfig(BASE, {}, { smtpConfigured: false }).notifyOnAdmission).toBe(false);
    expect(loadOpeningNightConfig(BASE, {}).notifyOnAdmission).toBe(false);
  });
  it('can be switched off, and refuses to be switched on without SMTP (the page would promise mail never sent)', () => {
    expect(loadOpeningNightConfig(BASE, { WAITING_ROOM_NOTIFY_ADMISSION: 'false' }, { smtpConfigured: true }).notifyOnAdmission).toBe(false);
    expect(loadOpeningNightConfig(BASE, { WAITING_ROOM_NOTIFY_ADMISSION: 'true' }, { smtpConfigured: true }).notifyOnAdmission).toBe(true);
    expect(() => loadOpeningNightConfig(BASE, { WAITING_ROOM_NOTIFY_ADMISSION: 'true' }, { smtpConfigured: false })).toThrow(ConfigError);
    expect(() => loadOpeningNightConfig(BASE, { WAITING_ROOM_NOTIFY_ADMISSION: 'yes' }, { smtpConfigured: true })).toThrow(/WAITING_ROOM_NOTIFY_ADMISSION/);
  });
  it('sweeps every 5 s unless told otherwise, within bounds', () => {
    expect(loadOpeningNightConfig(BASE, {}).noticeSweepMs).toBe(5000);
    expect(loadOpeningNightConfig(BASE, { WAITING_ROOM_NOTICE_SWEEP_MS: '200' }).noticeSweepMs).toBe(200);
    expect(() => loadOpeningNightConfig(BASE, { WAITING_ROOM_NOTICE_SWEEP_MS: '0' })).toThrow(/WAITING_ROOM_NOTICE_SWEEP_MS/);
  });
});

describe('opening-night config: the join gate', () => {
  it('lets 16 to 4096 joins in at once, narrowing above 20 ms of loop delay or 250 ms per join, unless told otherwise', () => {
    expect(loadOpeningNightConfig(BASE, {}).joinGate).toEqual({ minInFlight: 16, maxInFlight: 4096, targetMs: 250, lagTargetMs: 20 });
    expect(loadOpeningNightConfig(BASE, { WAITING_ROOM_JOIN_MIN_IN_FLIGHT: '2', WAITING_ROOM_JOIN_MAX_IN_FLIGHT: '2', WAITING_ROOM_JOIN_TARGET_MS: '40', WAITING_ROOM_JOIN_LAG_TARGET_MS: '5' }).joinGate)
      .toEqual({ minInFlight: 2, maxInFlight: 2, targetMs: 40, lagTargetMs: 5 });
    // A floor above the default ceiling raises the ceiling with it.
    expect(loadOpeningNightConfig(BASE, { WAITING_ROOM_JOIN_MIN_IN_FLIGHT: '5000' }).joinGate.maxInFlight).toBe(5000);
  });
  it('refuses a ceiling below the floor and values out of bounds, naming the setting', () => {
    expect(() => loadOpeningNightConfig(BASE, { WAITING_ROOM_JOIN_MIN_IN_FLIGHT: '10', WAITING_ROOM_JOIN_MAX_IN_FLIGHT: '5' })).toThrow(/WAITING_ROOM_JOIN_MAX_IN_FLIGHT/);
    expect(() => loadOpeningNightConfig(BASE, { WAITING_ROOM_JOIN_MIN_IN_FLIGHT: '0' })).toThrow(/WAITING_ROOM_JOIN_MIN_IN_FLIGHT/);
    expect(() => loadOpeningNightConfig(BASE, { WAITING_ROOM_JOIN_TARGET_MS: 'soon' })).toThrow(/WAITING_ROOM_JOIN_TARGET_MS/);
    expect(() => loadOpeningNightConfig(BASE, { WAITING_ROOM_JOIN_LAG_TARGET_MS: '0' })).toThrow(/WAITING_ROOM_JOIN_LAG_TARGET_MS/);
  });
});
