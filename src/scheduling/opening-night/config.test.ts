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
