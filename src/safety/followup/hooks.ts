/**
 * Where a dose's follow-up schedule is made, in the dose's own transaction:
 *  - every dose a clinic records (FHIR POST or transaction entry by staff or an operator, as the observation wait):
 *    scheduled when the person has chosen follow-ups (wallet, sign-up confirmation, or staff earlier);
 *  - `$record-dose` with `follow-up`: staff asked the person at recording; their answer is recorded as their choice
 *    and decides this dose's schedule (runs after the write hooks, so it also undoes one made from an older "yes").
 */
import type { Immunization } from 'fhir/r4';
import type { DoseRecordedHook } from '../../clinic/record-dose.js';
import type { WriteInterceptor } from '../../fhir/types.js';
import { writesAsClinicStaff } from '../observation/hooks.js';
import { scheduleFollowups, setPreference, unscheduleDose } from './schedule.js';
import type { FollowupStep } from './steps.js';

export function followupInterceptor(o: { steps: () => readonly FollowupStep[]; clock?: () => Date }): WriteInterceptor {
  const clock = o.clock ?? (() => new Date());
  return {
    resourceType: 'Immunization',
    appliesTo: (principal, interaction) => interaction === 'create' && writesAsClinicStaff(principal),
    async afterWrite(tx, { interaction, resource }) {
      if (interaction !== 'create' || !resource) return;
      await scheduleFollowups(tx, resource as unknown as Immunization & { id?: string }, o.steps(), clock());
    },
  };
}

export function followupDoseHook(o: { steps: () => readonly FollowupStep[] }): DoseRecordedHook {
  return async (tx, e) => {
    if (e.followUp === undefined) return;
    const by = e.principal.fhirUser ?? 'operator-token';
    // A "no": this dose's rows (made from an earlier "yes" moments ago, in this transaction) go first, then the
    // choice is recorded, which stops what is still to come of earlier doses.
    if (!e.followUp) await unscheduleDose(tx, e.immunization.id!);
    await setPreference(tx, e.patientId, e.followUp, by, 'staff', e.at);
    if (e.followUp) await scheduleFollowups(tx, e.immunization, o.steps(), e.at, { force: true });
  };
}
