/**
 * Bench set-up against the hub's own database schema: a clinic with slots and doses, an open cohort window, and
 * people who registered, won the draw and claimed their invitation (links and one-time codes read from the
 * outbox, as a person would read their mail: the bench hub has no SMTP server).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Db } from '../../src/store/db.js';
import { FhirRepository } from '../../src/store/repository.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { registerPerson } from '../../src/scheduling/eligibility/registrants.js';
import { loadTierRules } from '../../src/scheduling/eligibility/rules.js';
import { commitDraw, loadEquityIndex, runDraw } from '../../src/scheduling/invitations/draws.js';
import { claimTicket, sendClaimCode } from '../../src/scheduling/invitations/tickets.js';
import { scheduleWindow } from '../../src/scheduling/invitations/waves.js';
import { seedClinic } from '../../test/scheduling/support.js';

export async function freshSchema(url: string): Promise<{ url: string; schema: string; drop(): Promise<void> }> {
  const schema = `onbench_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  return {
    schema,
    url: `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    async drop() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA ${schema} CASCADE`);
      await c.end();
    },
  };
}

export async function seedPlaces(db: Db, places: number): Promise<string[]> {
  const ctx = { db, repo: new FhirRepository(db), products: loadProducts(), holdSeconds: 300 };
  const slots = Math.ceil(places / 10);
  return (await seedClinic(ctx, { slots, capacity: 10, doses: places + 50, day: '2030-06-03' })).slotIds;
}

async function parallel<T>(items: T[], width: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]!);
  }));
}

/** `n` people registered, invited by a draw and holding claim tokens. */
export async function claimedInvitations(db: Db, n: number, publicBaseUrl: string): Promise<string[]> {
  const repo = new FhirRepository(db);
  const rules = loadTierRules();
  const now = Date.now();
  const window = await scheduleWindow(db, { name: 'bench cohort', opensAt: new Date(now - 3_600_000).toISOString(), closesAt: new Date(now + 6 * 3_600_000).toISOString(), criteria: {} });
  const people = Array.from({ length: n }, (_, i) => i);
  await parallel(people, 8, async (i) => {
    const day = String((i % 28) + 1).padStart(2, '0');
    await registerPerson({ db, repo, rules }, {
      name: { family: `Bench${i}`, given: ['Person'] }, birthDate: `1970-01-${day}`, email: `p${i}@bench.example`, postalCode: '01201',
      answers: { occupation: 'healthcare-personnel' },
    });
  });
  const committed = await commitDraw({ db, rules }, { label: 'bench wave', invitations: n, windowId: window.id, useEquityWeights: false });
  await new Promise((r) => setTimeout(r, 5));
  await runDraw({ db, rules, equity: loadEquityIndex(), publicBaseUrl }, committed.id);
  const invites = await db.query<{ recipient: string; body: string }>(`SELECT recipient, body FROM notification_outbox WHERE kind = 'invitation'`);
  const tokens: string[] = [];
  await parallel(invites.rows, 8, async (m) => {
    const ticketId = /\/invitation\/([A-Za-z0-9_-]+)/.exec(m.body)![1]!;
    const sent = await sendClaimCode(db, ticketId);
    const mail = await db.query<{ body: string }>(`SELECT body FROM notification_outbox WHERE dedupe_key = $1`, [`one-time-code:${sent.ticketRef}:1`]);
    const code = /\b(\d{6})\b/.exec(mail.rows[0]!.body)![1]!;
    const i = Number(/^p(\d+)@/.exec(m.recipient)![1]);
    const claim = await claimTicket(db, { ticketId, code, birthDate: `1970-01-${String((i % 28) + 1).padStart(2, '0')}` });
    tokens.push(claim.claimToken);
  });
  return tokens;
}
