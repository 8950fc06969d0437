/**
 * `vaxhub forecast refresh` (issue 23): every stored person's recommendation recomputed in keyset batches, each the
 * same answer as Patient/[id]/$immds-forecast; people without a usable birth date are counted, not failed on.
 */
import type { ImmunizationRecommendation } from 'fhir/r4';
import { migratedTestDatabases } from '../helpers/hub.js';
import { FhirRepository } from '../../src/store/repository.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import { openForecaster, todayIn } from '../../src/forecast/forecaster.js';
import { countPatients, refreshAllForecasts, type RefreshProgress } from '../../src/forecast/refresh.js';
import { forecastRecommendationId, storedForecast } from '../../src/forecast/stored-recommendation.js';
import { readPatientRecord } from '../../src/credentials/record-query.js';
import { SUPPORTING_DATA } from './cdsi-cases.js';

describe.each(migratedTestDatabases())('forecast refresh ($name)', (tdb) => {
  it('rewrites every stored forecast in batches, as the live forecast answers it', async () => {
    const db = await tdb.open();
    try {
      const repo = new FhirRepository(db);
      const forecaster = await openForecaster(SUPPORTING_DATA);
      const ids: string[] = [];
      for (let i = 0; i < 11; i++) {
        const p = await repo.create({ resourceType: 'Patient', birthDate: `20${10 + i}-0${1 + (i % 9)}-15`, gender: i % 2 ? 'male' : 'female' } as AnyResource);
        ids.push(p.id!);
        for (const [cvx, days] of [['08', 1], ['110', 70], ['03', 400]] as const) {
          const at = new Date(Date.parse(p.birthDate as string) + days * 86_400_000).toISOString().slice(0, 10);
          await repo.create({ resourceType: 'Immunization', status: 'completed', patient: { reference: `Patient/${p.id}` }, vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: cvx }] }, occurrenceDateTime: at } as AnyResource);
        }
      }
      await repo.create({ resourceType: 'Patient', name: [{ family: 'NoBirthDate' }] } as AnyResource);
      expect(await countPatients(db)).toBe(12);
      const seen: RefreshProgress[] = [];
      const today = todayIn('UTC');
      const r = await refreshAllForecasts(db, repo, forecaster, { assessmentDate: today, batchSize: 5, onProgress: (p) => seen.push(p) });
      expect(r).toEqual({ done: 12, written: 11, skipped: 1 });
      expect(seen.map((p) => p.done)).toEqual([5, 10, 12]);
      for (const id of ids) {
        const stored = await repo.read<ImmunizationRecommendation & AnyResource>('ImmunizationRecommendation', forecastRecommendationId(id));
        const { patient, immunizations } = await readPatientRecord(db, id);
        expect(stored.recommendation).toEqual(storedForecast(forecaster, patient!, immunizations, today).recommendation);
        expect(stored.recommendation.length).toBeGreaterThan(10);
      }
      // A second run rewrites the same resources (stable ids): no new ones.
      await refreshAllForecasts(db, repo, forecaster, { assessmentDate: today, batchSize: 100 });
      expect((await repo.search('ImmunizationRecommendation', { _count: '100' })).resources).toHaveLength(11);
    } finally {
      await db.close();
    }
  }, 180_000);
});
