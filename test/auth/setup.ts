/**
 * Test rig for the auth router: an Express app containing just the auth router, on PGlite always and on the real
 * PostgreSQL (fresh schema) when TEST_DATABASE_URL is set. Mail is captured instead of sent.
 */
import crypto from 'node:crypto';
import express, { type Express } from 'express';
import type { Db } from '../../src/store/db.js';
import { createAuthRouter, type AuthRouterDeps } from '../../src/auth/router.js';
import { migratedTestDatabases, type TestDatabase } from '../helpers/hub.js';
import type { OtpSender, PatientDirectory } from '../../src/auth/login.js';

export const BASE_URL = 'http://hub.test';
export const FHIR_BASE = 'http://hub.test/fhir';
export const TOKEN_URL = 'http://hub.test/auth/token';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export type AuthDb = TestDatabase;
/** PGlite always, PostgreSQL (fresh schema) when TEST_DATABASE_URL is set. */
export const authDatabases: AuthDb[] = migratedTestDatabases();

export class CapturingOtpSender implements OtpSender {
  readonly sent: Array<{ to: string; code: string }> = [];
  async send(to: string, code: string): Promise<void> {
    this.sent.push({ to, code });
  }
  last(): string | undefined {
    return this.sent.at(-1)?.code;
  }
}

export class MapPatientDirectory implements PatientDirectory {
  constructor(private readonly byEmail: Record<string, string>, private readonly byPhone: Record<string, string> = {}) {}
  async findByEmail(email: string): Promise<string | undefined> {
    return this.byEmail[email];
  }
  async findByPhone(phone: string): Promise<string | undefined> {
    return this.byPhone[phone];
  }
  async holds(patientId: string, contact: { email: string } | { phone: string }): Promise<boolean> {
    return 'email' in contact ? this.byEmail[contact.email] === patientId : this.byPhone[contact.phone] === patientId;
  }
}

export function authApp(db: Db, overrides: Partial<AuthRouterDeps> = {}): { app: Express; otp: CapturingOtpSender } {
  const otp = new CapturingOtpSender();
  const app = express();
  app.set('trust proxy', false);
  app.use(
    createAuthRouter({
      db,
      baseUrl: BASE_URL,
      fhirBaseUrl: FHIR_BASE,
      otpSender: otp,
      patientDirectory: new MapPatientDirectory({ 'pat.a@example.org': 'pat-a', 'pat.b@example.org': 'pat-b' }),
      adminToken: ADMIN_TOKEN,
      rateLimits: { perIp: { limit: 10_000, windowMs: 60_000 }, perClient: { limit: 10_000, windowMs: 60_000 } },
      ...overrides,
    }),
  );
  return { app, otp };
}

export const uid = (p: string): string => `${p}-${crypto.randomBytes(4).toString('hex')}`;
