/**
 * A running hub for the sign-up and admin browser tests: real SMART access policy, opening night wired (the
 * waiting room, sign-up, draws, the booking gate), the apps served under /apps, a real SMTP server, and clinics
 * with positions, stock and free places a few days ahead.
 */
import type { Location } from 'fhir/r4';
import type { Config } from '../../src/config/config.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { ADMIN_TOKEN, type TestHub } from '../helpers/hub.js';
import { startMailbox, startOpeningNightHub } from '../opening-night/opening-night-hub.js';
import { seedClinic } from '../scheduling/support.js';

// One browser on loopback plays many people: the per-IP limits are tested in test/opening-night.
process.env.WAITING_ROOM_EVENT_CACHE_MS = '0';
process.env.SIGNUP_PER_IP_PER_MINUTE = '6000';
process.env.CLAIM_PER_IP_PER_MINUTE = '6000';
process.env.WAITING_ROOM_JOIN_PER_IP_PER_MINUTE = '6000';

export const backend = process.env.TEST_DATABASE_URL ? ('postgres' as const) : ('pglite' as const);

export interface AppsRig {
  rig: TestHub;
  mailbox: Awaited<ReturnType<typeof startMailbox>>;
  clinics: { near: string; far: string; nearSlots: string[] };
  /** The day (YYYY-MM-DD) the seeded places are on. */
  day: string;
  close(): Promise<void>;
}

async function place(rig: TestHub, id: string, position: { latitude: number; longitude: number }, name: string): Promise<void> {
  const l = (await rig.hub.repo.read('Location', id)) as unknown as Location;
  await rig.hub.repo.update({ ...l, name, position } as unknown as Location & { [k: string]: unknown });
}

export async function startAppsRig(overrides: Partial<Config> = {}): Promise<AppsRig> {
  const mailbox = await startMailbox();
  const rig = await startOpeningNightHub(backend, { smtpUrl: mailbox.url, ...overrides });
  const ctx = { db: rig.hub.db, repo: rig.hub.repo, products: loadProducts(), holdSeconds: 300 };
  const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
  // Far away but first by name, so distance (not the alphabet) must put the near one first.
  // SHINGRIX: current (the sign-up page offers no discontinued product) and two doses (the next-dose date shows).
  const far = await seedClinic(ctx, { cvx: '187', slots: 4, capacity: 3, doses: 20, day, postalCode: '02139', city: 'Cambridge', lot: 'FAR-1' });
  const near = await seedClinic(ctx, { cvx: '187', slots: 4, capacity: 3, doses: 20, day, postalCode: '01201', city: 'Pittsfield', lot: 'NEAR-1' });
  await place(rig, far.locationId, { latitude: 42.3736, longitude: -71.1097 }, 'Aardvark Hall Clinic');
  await place(rig, near.locationId, { latitude: 42.4501, longitude: -73.2454 }, 'Pittsfield Community Clinic');
  return {
    rig, mailbox, day, clinics: { near: near.locationId, far: far.locationId, nearSlots: near.slotIds },
    async close() {
      await rig.close();
      await mailbox.close();
    },
  };
}

/** An operator call (admin bearer), JSON in and out. */
export async function operator<T>(rig: TestHub, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${rig.url}${path}`, {
    method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
