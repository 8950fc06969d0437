/**
 * `Appointment/$find` (Argonaut Scheduling): proposed Appointments for slots with a free place and a dose, in a
 * searchset Bundle with paging. Filters: `start`/`end` (required), `location-reference`, `location-string`
 * (postal code, city or state, via Location `address` search), `specialty`/`visit-type` (immunization service
 * types), `patient-reference`, `_count`, and vaxhub's `vaccine-product` (CVX code). Proposals are not stored:
 * their id `slot.<slot id>` is what `$hold`/`$book` take as `appt-id`.
 * @see http://fhir.org/guides/argonaut/scheduling/OperationDefinition-appointment-find.html
 */
import type { OperationDefinition } from '../../fhir/types.js';
import { badRequest } from '../../fhir/outcomes.js';
import { buildAppointment, idFromReference } from '../appointment-resource.js';
import { LIVE_SLOT_SQL } from '../slot-store.js';
import { paramValue, paramValues, searchset } from './params.js';
import type { SchedulingOperationConfig } from './index.js';
import type { CapacityRow } from '../capacity.js';

const PROPOSAL_PREFIX = 'slot.';
const IMMUNIZATION_CODES = new Set(['57', 'covid19-immunization']);

/** `Appointment/slot.X` or `slot.X` -> `X`. */
export function proposalSlotId(apptId: string): string | undefined {
  const id = apptId.split('/').pop() ?? '';
  return id.startsWith(PROPOSAL_PREFIX) ? id.slice(PROPOSAL_PREFIX.length) : undefined;
}

function instant(v: string | undefined, name: string): string {
  if (!v || Number.isNaN(Date.parse(v))) throw badRequest(`${name} is required as a dateTime`, name);
  return new Date(v).toISOString();
}

export function appointmentFindOperation(cfg: SchedulingOperationConfig): OperationDefinition {
  return {
    name: 'find',
    resourceTypes: ['Appointment'],
    levels: ['type'],
    methods: ['GET', 'POST'],
    access: { interaction: 'read' },
    definition: 'http://fhir.org/guides/argonaut/scheduling/OperationDefinition/appointment-find',
    async handler(req, ctx) {
      const start = instant(paramValue(req, 'start'), 'start');
      const end = instant(paramValue(req, 'end'), 'end');
      if (end <= start) throw badRequest('end must be after start', 'end');
      const count = Math.min(Math.max(Number(paramValue(req, '_count') ?? 20) || 20, 1), 100);
      const codes = [...paramValues(req, 'visit-type'), ...paramValues(req, 'specialty')].map((t) => t.split('|').pop()!);
      if (codes.length && !codes.some((c) => IMMUNIZATION_CODES.has(c))) return { status: 200, body: searchset([]) };
      let locations: string[] | null = null;
      const refs = paramValues(req, 'location-reference').map((r) => idFromReference(r, 'Location'));
      if (refs.some((r) => !r)) throw badRequest('location-reference must be a Location reference', 'location-reference');
      if (refs.length) locations = refs as string[];
      const strings = paramValues(req, 'location-string');
      if (strings.length) {
        const found = new Set<string>();
        for (const s of strings) for (const l of (await ctx.repo.search('Location', { address: s, _count: '1000' })).resources) found.add(l.id!);
        locations = locations ? locations.filter((l) => found.has(l)) : [...found];
      }
      const products = paramValues(req, 'vaccine-product').map((p) => p.split('|').pop()!);
      const patient = paramValue(req, 'patient-reference');
      const patientId = patient ? idFromReference(patient, 'Patient') : req.principal.patientId;
      const cursor = paramValue(req, '_page');
      const [afterStart, afterId] = cursor ? Buffer.from(cursor, 'base64url').toString().split('|') : [null, null];
      const r = await ctx.db.query<CapacityRow & { live_taken: number; supply_left: number }>(
        `SELECT * FROM (${LIVE_SLOT_SQL}
           WHERE s.start_at >= $2 AND s.start_at < $3 AND s.start_at > $1
             AND ($4::text[] IS NULL OR s.location_id = ANY($4::text[]))
             AND ($5::text[] IS NULL OR s.product_cvx = ANY($5::text[]))
             AND ($6::timestamptz IS NULL OR (s.start_at, s.id) > ($6::timestamptz, $7::text))) v
         WHERE v.live_taken < v.capacity AND v.supply_left > 0
         ORDER BY v.start_at, v.id LIMIT $8`,
        [new Date().toISOString(), start, end, locations, products.length ? products : null, afterStart, afterId, count + 1],
      );
      const rows = r.rows.slice(0, count);
      const appts = rows.map((row) => buildAppointment({ id: `${PROPOSAL_PREFIX}${row.id}`.slice(0, 64), status: 'proposed', slot: row, product: cfg.products.get(row.product_cvx), patientId }));
      const link = [{ relation: 'self', url: `${req.baseUrl}/Appointment/$find` }];
      if (r.rows.length > count) {
        const last = rows[rows.length - 1]!;
        const q = new URLSearchParams({ start, end, _count: String(count), _page: Buffer.from(`${last.start_at}|${last.id}`).toString('base64url') });
        for (const l of locations ?? []) q.append('location-reference', `Location/${l}`);
        for (const p of products) q.append('vaccine-product', p);
        if (patient) q.set('patient-reference', patient);
        link.push({ relation: 'next', url: `${req.baseUrl}/Appointment/$find?${q}` });
      }
      return { status: 200, body: searchset(appts, { link }) };
    },
  };
}
