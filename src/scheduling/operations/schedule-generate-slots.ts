/**
 * `Schedule/[id]/$generate-slots`: creates a Schedule's slots from opening hours. Parameters: `start`, `end`
 * (dates, inclusive), `opening-hours` (repeatable, e.g. `mon-fri 09:00-17:00`), `slot-minutes`, `capacity`,
 * `time-zone` (IANA, default UTC). Idempotent: a period generated twice keeps its slots and counts.
 */
import type { Schedule } from 'fhir/r4';
import type { OperationDefinition } from '../../fhir/types.js';
import { badRequest } from '../../fhir/outcomes.js';
import { parseOpeningHours } from '../slot-generation.js';
import { generateSlots, scheduleFacts } from '../slot-store.js';
import { supplyLeft } from '../supply.js';
import { paramValue, paramValues } from './params.js';

function int(v: string | undefined, name: string): number {
  const n = Number(v);
  if (v === undefined || !Number.isInteger(n)) throw badRequest(`${name} must be an integer`, name);
  return n;
}

export function scheduleGenerateSlotsOperation(): OperationDefinition {
  return {
    name: 'generate-slots',
    resourceTypes: ['Schedule'],
    levels: ['instance'],
    methods: ['POST'],
    // Opening a clinic's calendar changes its Schedule's Slots: staff who may update that Schedule.
    access: { interaction: 'update', instance: 'write' },
    async handler(req, ctx) {
      const from = paramValue(req, 'start');
      const to = paramValue(req, 'end') ?? from;
      if (!from) throw badRequest('start is required', 'start');
      const hoursText = paramValues(req, 'opening-hours');
      if (!hoursText.length) throw badRequest('opening-hours is required, e.g. "mon-fri 09:00-17:00"', 'opening-hours');
      let hours;
      try { hours = hoursText.flatMap(parseOpeningHours); } catch (e) { throw badRequest((e as Error).message, 'opening-hours'); }
      const gen = await generateSlots(ctx.db, ctx.repo, req.id!, {
        from: from.slice(0, 10), to: to!.slice(0, 10), hours, slotMinutes: int(paramValue(req, 'slot-minutes'), 'slot-minutes'),
        capacity: int(paramValue(req, 'capacity'), 'capacity'), timeZone: paramValue(req, 'time-zone') ?? 'UTC',
      });
      const f = scheduleFacts(await ctx.repo.read<Schedule & { [k: string]: unknown }>('Schedule', req.id!));
      const doses = await supplyLeft(ctx.db, f.locationId, f.productCvx, `${from.slice(0, 10)}T23:59:59Z`);
      const parameter: Array<{ name: string; valueInteger?: number; valueString?: string }> = [
        { name: 'created', valueInteger: gen.created }, { name: 'existing', valueInteger: gen.existing },
        { name: 'capacity-offered', valueInteger: gen.capacityOffered }, { name: 'doses-available', valueInteger: doses },
      ];
      if (gen.capacityOffered > doses) {
        parameter.push({ name: 'warning', valueString: `Places offered (${gen.capacityOffered}) exceed doses available (${doses}); bookings stop with NO_SUPPLY when doses run out` });
      }
      return { status: 200, body: { resourceType: 'Parameters', parameter } };
    },
  };
}
