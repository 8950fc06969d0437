/**
 * The scheduling `$operations`, for the FHIR router's operation table:
 *   `for (const op of schedulingOperations(cfg)) router.addOperation(op)`.
 */
import type { OperationDefinition } from '../../fhir/types.js';
import type { SchedulingConfig } from '../booking-core.js';
import { appointmentBookOperation } from './appointment-book.js';
import { appointmentCheckInOperation } from './appointment-check-in.js';
import { appointmentFindOperation } from './appointment-find.js';
import { appointmentHoldOperation } from './appointment-hold.js';
import { bulkPublishOperation } from './bulk-publish.js';
import { scheduleGenerateSlotsOperation } from './schedule-generate-slots.js';

export interface SchedulingOperationConfig extends SchedulingConfig {
  /** Booking page for SMART Scheduling Links deep links (the slot id is added as `?slot=`). */
  bookingPortalUrl?: string;
  /** Cache lifetime of the `$bulk-publish` files (default 60 s). */
  publishMaxAgeSeconds?: number;
}

export function schedulingOperations(cfg: SchedulingOperationConfig): OperationDefinition[] {
  return [
    appointmentFindOperation(cfg),
    appointmentHoldOperation(cfg),
    appointmentBookOperation(cfg),
    appointmentCheckInOperation(cfg),
    scheduleGenerateSlotsOperation(),
    bulkPublishOperation(cfg),
  ];
}
