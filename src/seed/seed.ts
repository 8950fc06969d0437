/** Writes a demo jurisdiction through the repository, with progress reporting. */
import type { Repository } from '../store/repository-types.js';
import type { Db } from '../store/db.js';
import { DEMO_PEOPLE, generateImmunizations, generateJurisdiction, generatePatient } from './demo-data.js';
import type { AnyResource } from '../store/repository-types.js';
import { ensureDemoStaff } from '../auth/staff.js';

export interface SeedOptions {
  patients: number;
  clinics: number;
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface SeedResult {
  patients: number;
  immunizations: number;
  locations: number;
  schedules: number;
}

/** Hooks other capabilities run after the jurisdiction exists (e.g. generating slots with capacity and stock). */
export type AfterSeedHook = (db: Db, repo: Repository, jurisdiction: ReturnType<typeof generateJurisdiction>) => Promise<void>;

export async function seedDemo(db: Db, repo: Repository, opts: SeedOptions, after: AfterSeedHook[] = []): Promise<SeedResult> {
  const j = generateJurisdiction({ clinics: opts.clinics, seed: opts.seed });
  for (const r of [...j.organizations, ...j.practitioners, ...j.locations, ...j.schedules]) {
    await repo.update(r as unknown as AnyResource);
  }
  for (const hook of after) await hook(db, repo, j);
  // The demo sign-in accounts (README) get fixed ids and a vaccination history.
  let immunizations = 0;
  for (const [n, account] of DEMO_PEOPLE.entries()) {
    const p = { ...generatePatient(900_000 + n, opts.seed), id: account.patientId, name: [{ use: 'official' as const, family: account.family, given: [account.given] }], telecom: [{ system: 'email' as const, value: account.email }] };
    await repo.update(p as unknown as AnyResource);
    for (const imm of generateImmunizations(account.patientId, 900_000 + n, j.locations, opts.seed)) {
      await repo.update({ ...(imm as unknown as AnyResource), id: `${account.patientId}-dose-${imm.identifier![0]!.value!.split('-').pop()}` });
      immunizations++;
    }
  }
  // The demo staff account (README) signs in to the admin console the same way, with a code.
  await ensureDemoStaff(db, repo);
  const batch = 50;
  for (let start = 0; start < opts.patients; start += batch) {
    await db.transaction(async (tx) => {
      for (let i = start; i < Math.min(opts.patients, start + batch); i++) {
        const p = await repo.create(generatePatient(i, opts.seed) as unknown as AnyResource, { tx });
        for (const imm of generateImmunizations(p.id!, i, j.locations, opts.seed)) {
          await repo.create(imm as unknown as AnyResource, { tx });
          immunizations++;
        }
      }
    });
    opts.onProgress?.(Math.min(opts.patients, start + batch), opts.patients);
  }
  return { patients: opts.patients, immunizations, locations: j.locations.length, schedules: j.schedules.length };
}

export async function isEmpty(db: Db): Promise<boolean> {
  const r = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM fhir_resource WHERE resource_type = 'Location'");
  return (r.rows[0]?.n ?? 0) === 0;
}
