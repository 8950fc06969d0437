/** `Appointment/[id]/$check-in`: the person has arrived; the Appointment becomes `checked-in`. */
import type { OperationDefinition } from '../../fhir/types.js';
import { checkIn } from '../booking.js';
import type { SchedulingOperationConfig } from './index.js';

export function appointmentCheckInOperation(cfg: SchedulingOperationConfig): OperationDefinition {
  return {
    name: 'check-in',
    resourceTypes: ['Appointment'],
    levels: ['instance'],
    methods: ['POST'],
    // Checking in changes the Appointment: a write on that Appointment, as a PUT would be.
    access: { interaction: 'update', instance: 'write' },
    async handler(req, ctx) {
      return { status: 200, body: await checkIn({ ...cfg, db: ctx.db, repo: ctx.repo }, req.id!) };
    },
  };
}
