/**
 * Imports EHR Immunizations (and infection outcomes: positive tests as Observation, diagnoses as Condition) into the hub: the EHR's id becomes an identifier (source system + source id), so a
 * record is found again on every later pull (conditional create, under an advisory lock so concurrent imports
 * cannot create it twice); changed records are updated, records the EHR no longer has are deleted, and every
 * write gets a Provenance naming the EHR as its source.
 * @see https://hl7.org/fhir/R4/provenance.html
 */
import { createHash } from 'node:crypto';
import type { Condition, Immunization, Observation, Provenance } from 'fhir/r4';
import type { Db, Queryable } from '../../store/db.js';
import type { AnyResource } from '../../store/repository-types.js';
import { FhirRepository } from '../../store/repository.js';
import type { EhrConnection } from './connections.js';
import { fhirDateEndsBefore } from '../../fhir/dates.js';

export type ImportOutcome = 'created' | 'updated' | 'unchanged' | 'deleted';

/** The types the import mirrors. */
export type ImportedType = 'Immunization' | 'Observation' | 'Condition';
type Imported = Immunization | Observation | Condition;

/** Where each type names its patient (and the search parameter for it), and the date its `sinceDate` filter reads. */
const KINDS: Record<ImportedType, { patientParam: string; field: 'patient' | 'subject'; date: (r: Imported) => string | undefined }> = {
  Immunization: { patientParam: 'patient', field: 'patient', date: (r) => { const i = r as Immunization; return i.occurrenceDateTime ?? i.recorded; } },
  Observation: { patientParam: 'subject', field: 'subject', date: (r) => { const o = r as Observation; return o.effectiveDateTime ?? o.effectivePeriod?.start ?? o.effectiveInstant ?? o.issued; } },
  Condition: { patientParam: 'subject', field: 'subject', date: (r) => { const c = r as Condition; return c.onsetDateTime ?? c.onsetPeriod?.start ?? c.recordedDate; } },
};

/** The date of an EHR record the connection's `sinceDate` is compared with. */
export function recordDate(r: Imported): string | undefined {
  return KINDS[r.resourceType].date(r);
}

/** The identifier system of records that came from this EHR. */
export function sourceSystem(conn: Pick<EhrConnection, 'fhirBase'>, type: ImportedType = 'Immunization'): string {
  return `${conn.fhirBase}/${type}`;
}

/** Relative references point into the EHR: make them absolute so they stay true in the hub. */
function absolutize(value: unknown, base: string): unknown {
  if (Array.isArray(value)) return value.map((v) => absolutize(v, base));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = k === 'reference' && typeof v === 'string' && /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]+$/.test(v) ? `${base}/${v}` : absolutize(v, base);
    }
    return out;
  }
  return value;
}

/**
 * US Core requires primarySource (1..1); an EHR that leaves it out does not say whether its record is from the
 * person who gave the dose, so the hub's copy says that this is unknown (data-absent-reason), not a guess.
 */
function primarySourceOrAbsent(ehr: Immunization): Partial<Immunization> {
  if (ehr.primarySource !== undefined || ehr._primarySource !== undefined) return {};
  return { _primarySource: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] } };
}

/** The hub's copy of an EHR Immunization (pure). */
export function toHubImmunization(conn: Pick<EhrConnection, 'fhirBase' | 'name'>, ehr: Immunization, hubPatientId: string): Immunization {
  const { id: ehrId, meta: _meta, patient: _patient, text: _text, ...rest } = ehr;
  void _meta;
  void _patient;
  void _text;
  const system = sourceSystem(conn);
  return {
    ...(absolutize(rest, conn.fhirBase) as Omit<Immunization, 'patient'>),
    ...primarySourceOrAbsent(ehr),
    resourceType: 'Immunization',
    patient: { reference: `Patient/${hubPatientId}` },
    identifier: [...(ehr.identifier ?? []).filter((i) => i.system !== system), { system, value: ehrId! }],
    meta: { source: conn.fhirBase, tag: [{ system: 'https://vaxhub.org/fhir/CodeSystem/sync-source', code: `ehr:${conn.name}` }] },
  };
}

/** The hub's copy of an EHR Observation or Condition (pure): as toHubImmunization, with the hub's person as subject. */
export function toHubRecord(conn: Pick<EhrConnection, 'fhirBase' | 'name'>, ehr: Imported, hubPatientId: string): Imported {
  if (ehr.resourceType === 'Immunization') return toHubImmunization(conn, ehr, hubPatientId);
  const { id: ehrId, meta: _meta, subject: _subject, text: _text, ...rest } = ehr;
  void _meta;
  void _subject;
  void _text;
  const system = sourceSystem(conn, ehr.resourceType);
  return {
    ...(absolutize(rest, conn.fhirBase) as Omit<Observation, 'subject'>),
    resourceType: ehr.resourceType,
    subject: { reference: `Patient/${hubPatientId}` },
    identifier: [...(ehr.identifier ?? []).filter((i) => i.system !== system), { system, value: ehrId! }],
    meta: { source: conn.fhirBase, tag: [{ system: 'https://vaxhub.org/fhir/CodeSystem/sync-source', code: `ehr:${conn.name}` }] },
  } as Imported;
}

/** JSON with sorted keys: jsonb does not keep key order, so plain JSON.stringify would see every row as changed. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function fingerprint(r: AnyResource): string {
  const { id: _id, meta: _meta, ...rest } = r;
  void _id;
  void _meta;
  return createHash('sha256').update(canonical(rest)).digest('hex');
}

function provenance(conn: EhrConnection, target: AnyResource, activity: 'CREATE' | 'UPDATE' | 'DELETE', ehrId: string): Provenance {
  return {
    resourceType: 'Provenance',
    target: [{ reference: `${target.resourceType}/${target.id}/_history/${target.meta?.versionId ?? '1'}` }],
    recorded: new Date().toISOString(),
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: activity }] },
    agent: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author' }] },
        who: { display: `EHR connection ${conn.name}` },
      },
    ],
    entity: [{ role: 'source', what: { reference: `${conn.fhirBase}/${target.resourceType}/${ehrId}`, identifier: { system: sourceSystem(conn, target.resourceType as ImportedType), value: ehrId } } }],
  };
}

/** The hub's copies of this EHR's records for one patient, keyed by EHR id. */
export async function importedFor(repo: FhirRepository, conn: EhrConnection, hubPatientId: string, tx?: Queryable, type: ImportedType = 'Immunization'): Promise<Map<string, AnyResource>> {
  const system = sourceSystem(conn, type);
  const out = new Map<string, AnyResource>();
  let cursor: string | undefined;
  do {
    const page = await repo.search(type, { [KINDS[type].patientParam]: `Patient/${hubPatientId}`, _count: '500', ...(cursor ? { _cursor: cursor } : {}) }, tx ? { tx } : {});
    for (const r of page.resources) {
      const id = ((r.identifier as Immunization['identifier']) ?? []).find((i) => i.system === system)?.value;
      if (id) out.set(id, r);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

export class RecordImporter<T extends Imported = Imported> {
  private readonly repo: FhirRepository;
  /**
   * @param hubFhirBase records carrying the hub's own identifier system are records the hub pushed to the EHR;
   *   they are never imported back.
   */
  constructor(
    private readonly db: Db,
    private readonly conn: EhrConnection,
    private readonly hubFhirBase: string,
    readonly type: ImportedType = 'Immunization',
  ) {
    this.repo = new FhirRepository(db);
  }

  isOwn(ehr: T): boolean {
    return (ehr.identifier ?? []).some((i) => i.system === `${this.hubFhirBase}/${this.type}`);
  }

  /** Conditional create-or-update by source identifier, with its Provenance, in one transaction. */
  async upsert(ehr: T, hubPatientId: string): Promise<ImportOutcome> {
    if (!ehr.id) throw new Error(`an EHR ${this.type} without id cannot be tracked`);
    if (this.isOwn(ehr)) return 'unchanged';
    const mapped = toHubRecord(this.conn, ehr, hubPatientId) as unknown as AnyResource;
    const system = sourceSystem(this.conn, this.type);
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${system}|${ehr.id}`]);
      const found = await this.repo.search(this.type, { identifier: `${system}|${ehr.id}`, _count: '2' }, { tx });
      const existing = found.resources[0];
      if (!existing) {
        const created = await this.repo.create(mapped, { tx });
        await this.repo.create(provenance(this.conn, created, 'CREATE', ehr.id!) as unknown as AnyResource, { tx });
        return 'created';
      }
      if (fingerprint(existing) === fingerprint({ ...mapped, id: existing.id })) return 'unchanged';
      const { resource } = await this.repo.update({ ...mapped, id: existing.id }, { tx });
      await this.repo.create(provenance(this.conn, resource, 'UPDATE', ehr.id!) as unknown as AnyResource, { tx });
      return 'updated';
    });
  }

  /**
   * Deletes the hub's copies of this patient's EHR records that the EHR no longer returns (within the pulled date
   * window, so older records outside it are left alone).
   */
  async removeMissing(hubPatientId: string, seenEhrIds: Set<string>, sinceDate: string | null): Promise<number> {
    let deleted = 0;
    for (const [ehrId, copy] of await importedFor(this.repo, this.conn, hubPatientId, undefined, this.type)) {
      if (seenEhrIds.has(ehrId)) continue;
      const date = String(recordDate(copy as unknown as Imported) ?? '');
      if (sinceDate && fhirDateEndsBefore(date, sinceDate)) continue;
      await this.db.transaction(async (tx) => {
        await this.repo.delete(this.type, copy.id!, { tx });
        const meta = { ...copy.meta, versionId: String(Number(copy.meta?.versionId ?? '1') + 1) };
        await this.repo.create(provenance(this.conn, { ...copy, meta }, 'DELETE', ehrId) as unknown as AnyResource, { tx });
      });
      deleted++;
    }
    return deleted;
  }

  /** Deletes the hub's copy of one EHR record the EHR reports deleted (a `_since` export's `deleted` entry). */
  async removeByEhrId(ehrId: string): Promise<boolean> {
    const system = sourceSystem(this.conn, this.type);
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${system}|${ehrId}`]);
      const copy = (await this.repo.search(this.type, { identifier: `${system}|${ehrId}`, _count: '2' }, { tx })).resources[0];
      if (!copy) return false;
      await this.repo.delete(this.type, copy.id!, { tx });
      const meta = { ...copy.meta, versionId: String(Number(copy.meta?.versionId ?? '1') + 1) };
      await this.repo.create(provenance(this.conn, { ...copy, meta }, 'DELETE', ehrId) as unknown as AnyResource, { tx });
      return true;
    });
  }
}

/** The EHR Immunization importer (the type the sync began with). */
export class ImmunizationImporter extends RecordImporter<Immunization> {
  constructor(db: Db, conn: EhrConnection, hubFhirBase: string) {
    super(db, conn, hubFhirBase, 'Immunization');
  }
}
