/**
 * Infection outcomes from the EHR (issue 24): positive tests (Observation) and diagnoses (Condition) of the
 * infections profiles/outcome-codes.json lists, mirrored as the doses are (./import.ts: found again by source
 * identifier, updated when changed, deleted when the EHR no longer has them, a Provenance for every write). Only what
 * is an outcome is kept: a test the EHR amends to negative, or a diagnosis it refutes, is no longer one, so the hub's
 * copy is deleted on the next pull. A type is pulled only when the connection's scope reads it (an EHR app
 * registered for doses alone is not asked for results it may not read).
 * @see https://hl7.org/fhir/R4/observation.html
 */
import type { Condition, Observation } from 'fhir/r4';
import type { Db } from '../../store/db.js';
import type { EhrConnection } from './connections.js';
import type { EhrClient } from './ehr-client.js';
import { RecordImporter } from './import.js';
import { fhirDateEndsBefore } from '../../fhir/dates.js';
import { isAnyOutcome, loadOutcomeCatalogue, type OutcomeCatalogue } from '../../outcomes/catalogue.js';
import { loadProducts } from '../../scheduling/products.js';
import type { SyncStats } from './sync-stats.js';

export type OutcomeType = 'Observation' | 'Condition';
export const OUTCOME_TYPES: readonly OutcomeType[] = ['Observation', 'Condition'];

/** Whether a SMART scope string lets a system client search `type` (v1 `.read`/`.*`, v2 letters with `s`). */
export function scopeReads(scope: string, type: string): boolean {
  return scope.split(/\s+/).some((s) => {
    const m = /^(?:system|user|patient)\/([A-Za-z*]+)\.([a-z*]+)(?:\?.*)?$/.exec(s);
    return m !== null && (m[1] === type || m[1] === '*') && (m[2] === 'read' || m[2] === '*' || (/^c?r?u?d?s?$/.test(m[2]!) && m[2]!.includes('s')));
  });
}

export class OutcomePull {
  readonly types: OutcomeType[];
  private readonly importers: Record<OutcomeType, RecordImporter<Observation | Condition>>;
  private readonly catalogue: OutcomeCatalogue;

  constructor(
    db: Db,
    private readonly conn: EhrConnection,
    hubFhirBase: string,
    catalogue?: OutcomeCatalogue,
  ) {
    this.types = OUTCOME_TYPES.filter((t) => scopeReads(conn.scope, t));
    this.catalogue = catalogue ?? loadOutcomeCatalogue(loadProducts());
    this.importers = {
      Observation: new RecordImporter(db, conn, hubFhirBase, 'Observation'),
      Condition: new RecordImporter(db, conn, hubFhirBase, 'Condition'),
    };
  }

  /** The search that finds one person's records of a type: tests by their codes, diagnoses all (filtered here). */
  private query(type: OutcomeType, ehrPatientId: string): string {
    if (type === 'Condition') return `Condition?patient=${encodeURIComponent(ehrPatientId)}`;
    const codes = [...new Set(this.catalogue.outcomes.flatMap((o) => o.tests.map((t) => `${t.system}|${t.code}`)))];
    return `Observation?patient=${encodeURIComponent(ehrPatientId)}&code=${codes.map(encodeURIComponent).join(',')}`;
  }

  /**
   * One record from the EHR: imported when it is an outcome (its id added to `seen`), counted otherwise. Records
   * dated before the connection's `sinceDate` are left out and counted, as doses are.
   */
  async take(r: Observation | Condition, hubPatientId: string, seen: Set<string>, stats: SyncStats): Promise<void> {
    const importer = this.importers[r.resourceType];
    if (!r.id || importer.isOwn(r)) return;
    const date = r.resourceType === 'Observation' ? (r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.issued) : (r.onsetDateTime ?? r.onsetPeriod?.start ?? r.recordedDate);
    if (this.conn.sinceDate && fhirDateEndsBefore(date, this.conn.sinceDate)) {
      stats.skippedBeforeSince++;
      return;
    }
    if (!isAnyOutcome(r, this.catalogue)) {
      stats.outcomes.notOutcomes++;
      return;
    }
    seen.add(r.id);
    stats.outcomes[await importer.upsert(r, hubPatientId)]++;
  }

  /** Per-patient search pull: every outcome type the scope reads, then the copies the EHR no longer has go. */
  async pullPatient(ehr: EhrClient, ehrPatientId: string, hubPatientId: string, stats: SyncStats): Promise<void> {
    for (const type of this.types) {
      const seen = new Set<string>();
      for await (const page of ehr.search<Observation | Condition>(this.query(type, ehrPatientId))) {
        for (const r of page) if (r.resourceType === type) await this.take(r, hubPatientId, seen, stats);
      }
      stats.outcomes.deleted += await this.importers[type].removeMissing(hubPatientId, seen, this.conn.sinceDate);
    }
  }

  async removeMissing(type: OutcomeType, hubPatientId: string, seen: Set<string>, stats: SyncStats): Promise<void> {
    stats.outcomes.deleted += await this.importers[type].removeMissing(hubPatientId, seen, this.conn.sinceDate);
  }

  async removeByEhrId(type: OutcomeType, ehrId: string, stats: SyncStats): Promise<void> {
    if (await this.importers[type].removeByEhrId(ehrId)) stats.outcomes.deleted++;
  }
}
