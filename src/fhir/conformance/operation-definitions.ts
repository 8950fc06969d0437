/**
 * An OperationDefinition for each `$operation` the hub implements, served read-only at `/fhir/OperationDefinition`
 * so that every `operation.definition` of the CapabilityStatement resolves on this server
 * (`GET /fhir/OperationDefinition?url=<canonical>`). Operations defined by a published guide (Argonaut Scheduling,
 * Bulk Data, SMART Health Cards) keep the guide's canonical URL, which is what clients and test kits look for, and
 * list the parameters the hub takes; the hub's own operations have canonicals under https://vaxhub.org/fhir.
 * A test checks that every registered operation has one here and that its name, levels and types match.
 * @see https://hl7.org/fhir/R4/operationdefinition.html
 */
import type { OperationDefinition, OperationDefinitionParameter } from 'fhir/r4';
import { HUB_CANONICAL_BASE } from './terminology.js';

type Param = OperationDefinitionParameter;
const p = (name: string, use: 'in' | 'out', min: number, max: string, type: string | undefined, documentation: string, extra: Partial<Param> = {}): Param => ({
  name,
  use,
  min,
  max,
  ...(type ? { type: type as Param['type'] } : {}),
  documentation,
  ...extra,
});

/** The canonical of a hub-defined operation with no published definition. */
export function hubOperationCanonical(name: string): string {
  return `${HUB_CANONICAL_BASE}/OperationDefinition/${name}`;
}

const ARGONAUT = 'http://fhir.org/guides/argonaut/scheduling/OperationDefinition';
const BULK = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition';

interface Def {
  id: string;
  url: string;
  code: string;
  title: string;
  description: string;
  resource?: string[];
  system: boolean;
  type: boolean;
  instance: boolean;
  affectsState: boolean;
  parameter: Param[];
}

const exportParams: Param[] = [
  p('_outputFormat', 'in', 0, '1', 'string', 'application/fhir+ndjson (the default; application/ndjson and ndjson are accepted)'),
  p('_since', 'in', 0, '1', 'instant', 'Only resources changed after this instant'),
  p('_type', 'in', 0, '*', 'string', 'Comma-separated resource types to export'),
  p('_typeFilter', 'in', 0, '*', 'string', 'A search query per type (`Immunization?status=completed`); several for one type are ORed'),
  p('_elements', 'in', 0, '*', 'string', 'Elements to keep (mandatory elements are kept too)'),
  p('includeAssociatedData', 'in', 0, '*', 'code', 'Accepted and ignored: the hub adds no associated data'),
];

/** HL7 ImmDS Forecast IG STU1 parameters, and the hub's `information` notes. */
const immdsParams: Param[] = [
  p('assessmentDate', 'in', 1, '1', 'date', 'The date on which to assess the forecast.'),
  p('patient', 'in', 1, '1', 'Patient', 'Patient information: birthDate (required) and gender.'),
  p('immunization', 'in', 0, '*', 'Immunization', 'Patient immunization history: each with an id, a CVX vaccineCode (MVX optional, as a coding or manufacturer.identifier) and occurrenceDateTime.'),
  p('evaluation', 'out', 0, '*', 'ImmunizationEvaluation', 'One per dose and antigen: doseStatus (valid / notvalid, and CDSi valid, notvalid, extraneous, substandard), doseStatusReason, series and doseNumber; immunizationEvent references Immunization/<input id>.'),
  p('recommendation', 'out', 1, '1', 'ImmunizationRecommendation', "One recommendation per CDSi vaccine group: the group's CVX unspecified-formulation code, targetDisease, forecastStatus, doseNumber and dateCriterion (LOINC 30981-5 earliest, 30980-7 due, 59778-1 past due, 59777-3 latest)."),
  p('information', 'out', 0, '1', 'OperationOutcome', 'Doses not evaluated and why (unknown CVX, not given, an unverified patient report).'),
];

const DEFS: Def[] = [
  {
    id: 'appointment-find', url: `${ARGONAUT}/appointment-find`, code: 'find', title: 'Find appointment slots',
    description: 'Proposed Appointments for slots with a free place and a dose (Argonaut Scheduling), in a searchset Bundle with paging. Proposals are not stored: their id `slot.<slot id>` is the `appt-id` of $hold and $book.',
    resource: ['Appointment'], system: false, type: true, instance: false, affectsState: false,
    parameter: [
      p('start', 'in', 1, '1', 'dateTime', 'Earliest start of a proposed appointment'),
      p('end', 'in', 1, '1', 'dateTime', 'Latest start of a proposed appointment'),
      p('location-reference', 'in', 0, '*', 'string', 'Location/[id] of a clinic'),
      p('location-string', 'in', 0, '*', 'string', 'Postal code, city or state of a clinic'),
      p('specialty', 'in', 0, '*', 'token', 'Service type code (immunization services)'),
      p('visit-type', 'in', 0, '*', 'token', 'Service type code (immunization services)'),
      p('vaccine-product', 'in', 0, '*', 'token', `CVX code of the vaccine (${HUB_CANONICAL_BASE}/ValueSet/vaccine-products)`),
      p('patient-reference', 'in', 0, '1', 'string', 'Patient/[id] the appointment is for (second-dose intervals apply)'),
      p('_count', 'in', 0, '1', 'integer', 'Page size'),
      p('return', 'out', 1, '1', 'Bundle', 'searchset of proposed Appointments'),
    ],
  },
  {
    id: 'appointment-hold', url: `${ARGONAUT}/appointment-hold`, code: 'hold', title: 'Hold an appointment',
    description: 'Takes a place for a short time and answers a `pending` Appointment; the hold ends at the time in the `Expires` header.',
    resource: ['Appointment'], system: false, type: true, instance: false, affectsState: true,
    parameter: [
      p('appt-id', 'in', 0, '1', 'string', 'A proposal from $find: Appointment/slot.[slot id]'),
      p('appt-resource', 'in', 0, '1', 'Appointment', 'The proposed Appointment naming its Slot'),
      p('return', 'out', 1, '1', 'Bundle', 'The held Appointment'),
    ],
  },
  {
    id: 'appointment-book', url: `${ARGONAUT}/appointment-book`, code: 'book', title: 'Book an appointment',
    description: 'Confirms a hold or books a proposal directly; `cancelled-appt-id` reschedules atomically. A refusal answers the Appointment `cancelled` with the coded reason.',
    resource: ['Appointment'], system: false, type: true, instance: false, affectsState: true,
    parameter: [
      p('appt-id', 'in', 0, '1', 'string', 'The held Appointment, or a proposal from $find'),
      p('appt-resource', 'in', 0, '1', 'Appointment', 'The proposed Appointment naming its Slot'),
      p('patient-id', 'in', 0, '*', 'string', 'Patient/[id]'),
      p('patient-resource', 'in', 0, '1', 'Patient', 'The person, when not yet registered'),
      p('cancelled-appt-id', 'in', 0, '1', 'string', 'The Appointment this one replaces (reschedule)'),
      p('comment', 'in', 0, '1', 'string', 'Comment stored on the Appointment'),
      p('return', 'out', 1, '1', 'Bundle', 'The booked (or cancelled, with its reason) Appointment'),
    ],
  },
  {
    id: 'appointment-check-in', url: hubOperationCanonical('check-in'), code: 'check-in', title: 'Check in',
    description: 'The person has arrived: the Appointment becomes `checked-in`.',
    resource: ['Appointment'], system: false, type: false, instance: true, affectsState: true,
    parameter: [p('return', 'out', 1, '1', 'Appointment', 'The checked-in Appointment')],
  },
  {
    id: 'schedule-generate-slots', url: hubOperationCanonical('generate-slots'), code: 'generate-slots', title: 'Generate slots',
    description: "Creates a Schedule's Slots from opening hours. Idempotent: a period generated twice keeps its slots and counts.",
    resource: ['Schedule'], system: false, type: false, instance: true, affectsState: true,
    parameter: [
      p('start', 'in', 1, '1', 'date', 'First day (inclusive)'),
      p('end', 'in', 0, '1', 'date', 'Last day (inclusive; default: start)'),
      p('opening-hours', 'in', 1, '*', 'string', 'e.g. `mon-fri 09:00-17:00`'),
      p('slot-minutes', 'in', 0, '1', 'integer', 'Length of a slot'),
      p('capacity', 'in', 0, '1', 'integer', 'Places per slot'),
      p('time-zone', 'in', 0, '1', 'string', 'IANA time zone of the opening hours (default UTC)'),
      p('return', 'out', 1, '1', 'Parameters', 'How many slots were created and kept'),
    ],
  },
  {
    id: 'bulk-publish', url: hubOperationCanonical('bulk-publish'), code: 'bulk-publish', title: 'SMART Scheduling Links bulk publication',
    description: 'The public SMART Scheduling Links manifest (Location, Schedule and Slot NDJSON files); `file` serves one file. Answers If-None-Match and If-Modified-Since.',
    system: true, type: false, instance: false, affectsState: false,
    parameter: [
      p('file', 'in', 0, '1', 'string', 'Name of one file of the manifest'),
      p('_since', 'in', 0, '1', 'instant', 'Only resources changed after this instant'),
      p('return', 'out', 1, '1', undefined, 'The manifest (application/json) or an NDJSON file'),
    ],
  },
  {
    id: 'immunization-verify', url: hubOperationCanonical('verify'), code: 'verify', title: "Verify a patient's dose report",
    description: "An operator has checked a patient-reported dose against evidence and the hub now stands behind it: the dose's tag becomes staff-verified and a Provenance names the verifier. No input parameters.",
    resource: ['Immunization'], system: false, type: false, instance: true, affectsState: true,
    parameter: [p('return', 'out', 1, '1', 'Immunization', 'The verified Immunization')],
  },
  {
    id: 'appointment-record-dose', url: hubOperationCanonical('record-dose'), code: 'record-dose', title: 'Record the dose given at a checked-in appointment',
    description: "Staff record the dose a checked-in person was given: the Immunization is written from a lot of the clinic's stock usable today (expiry checked), the reserved dose leaves the shelf, the appointment is fulfilled, the registry VXU is queued and a Provenance names the staff member and the vaccinator. Operators only.",
    resource: ['Appointment'], system: false, type: false, instance: true, affectsState: true,
    parameter: [
      p('lot', 'in', 1, '1', 'string', 'The inventory id of the lot the dose was drawn from (GET /admin/clinic/appointments/[id]/dose-form lists them)'),
      p('site', 'in', 1, '1', 'code', 'HL7 v3 ActSite: LA, RA, LD, RD, LT, RT, LVL, RVL, LG, RG, LLFA, RLFA, BN'),
      p('route', 'in', 1, '1', 'code', 'HL7 v3 RouteOfAdministration: IM, SQ, IDINJ, NASINHLC, PO'),
      p('performer', 'in', 0, '1', 'string', 'The vaccinator (Practitioner/[id]); the staff member recording by default'),
      p('vis-published', 'in', 0, '1', 'date', 'Edition (publication date) of the Vaccine Information Statement handed over; absent when none was given'),
      p('dose-ml', 'in', 0, '1', 'decimal', 'Volume given in mL, when not the standard dose'),
      p('note', 'in', 0, '1', 'string', 'A note on the dose'),
      p('follow-up', 'in', 0, '1', 'boolean', "The person's answer, asked at recording, to follow-up check-ins after the dose (day 1, day 7, week 6 by default): true schedules them and records the choice for later doses, false declines; absent keeps the choice they made earlier"),
      p('return', 'out', 1, '1', 'Immunization', 'The recorded Immunization (201)'),
    ],
  },
  {
    id: 'appointment-no-show', url: hubOperationCanonical('no-show'), code: 'no-show', title: 'Mark a booked appointment no-show',
    description: 'The person did not come: the appointment becomes noshow, the reserved dose goes back to stock and the place to the same schedule\'s next slot that day. Operators only; undone by $undo-no-show.',
    resource: ['Appointment'], system: false, type: false, instance: true, affectsState: true,
    parameter: [
      p('appointment', 'out', 1, '1', 'Appointment', 'The Appointment (noshow)'),
      p('freed-place', 'out', 0, '1', 'Reference', 'The later Slot that got the place'),
    ],
  },
  {
    id: 'appointment-undo-no-show', url: hubOperationCanonical('undo-no-show'), code: 'undo-no-show', title: 'Undo a no-show',
    description: 'The person came late after all: the appointment is booked again in its own slot with a dose reserved; the later slot gives back the extra place while it is free. Operators only.',
    resource: ['Appointment'], system: false, type: false, instance: true, affectsState: true,
    parameter: [p('return', 'out', 1, '1', 'Appointment', 'The Appointment (booked)')],
  },
  {
    id: 'immunization-correct', url: hubOperationCanonical('correct'), code: 'correct', title: 'Correct a dose recorded at the clinic',
    description: 'Another lot, site, route, vaccinator or VIS edition for a dose the clinic recorded; the registry gets the update (VXU, RXA-21 U) and a lot change moves the dose between the lots\' stock. Operators only.',
    resource: ['Immunization'], system: false, type: false, instance: true, affectsState: true,
    parameter: [
      p('reason', 'in', 1, '1', 'string', 'What was wrong'),
      p('lot', 'in', 0, '1', 'string', 'The inventory id of the lot really used'),
      p('site', 'in', 0, '1', 'code', 'HL7 v3 ActSite'),
      p('route', 'in', 0, '1', 'code', 'HL7 v3 RouteOfAdministration'),
      p('performer', 'in', 0, '1', 'string', 'The vaccinator (Practitioner/[id])'),
      p('vis-published', 'in', 0, '1', 'date', 'Edition of the VIS handed over'),
      p('return', 'out', 1, '1', 'Immunization', 'The corrected Immunization'),
    ],
  },
  {
    id: 'immunization-entered-in-error', url: hubOperationCanonical('entered-in-error'), code: 'entered-in-error', title: 'Withdraw a dose recorded in error',
    description: 'The record should not exist: the Immunization becomes entered-in-error and the registry gets the delete (VXU, RXA-21 D). With restock the dose goes back on its lot and the appointment reopens. Operators only.',
    resource: ['Immunization'], system: false, type: false, instance: true, affectsState: true,
    parameter: [
      p('reason', 'in', 1, '1', 'string', 'What was wrong'),
      p('restock', 'in', 0, '1', 'boolean', 'The dose was not given: put it back on its lot and reopen the appointment'),
      p('return', 'out', 1, '1', 'Immunization', 'The Immunization (entered-in-error)'),
    ],
  },
  {
    id: 'patient-i-health-cards-issue', url: 'http://hl7.org/fhir/uv/smart-health-cards-and-links/OperationDefinition/patient-i-health-cards-issue',
    code: 'health-cards-issue', title: 'Issue SMART Health Cards',
    description: "Issues the person's SMART Health Card(s) for their doses the hub vouches for.",
    resource: ['Patient'], system: false, type: false, instance: true, affectsState: false,
    parameter: [
      p('credentialType', 'in', 1, '*', 'uri', 'Immunization (or https://smarthealth.cards#immunization, #health-card)'),
      p('credentialValueSet', 'in', 0, '*', 'uri', `A value set the doses must be in (the SMART Health Cards value sets and ${HUB_CANONICAL_BASE}/ValueSet/vaccine-products; see /fhir/ValueSet). Unknown value sets are refused with 400.`),
      p('includeIdentityClaim', 'in', 0, '*', 'string', 'Patient claims to include (e.g. Patient.name)'),
      p('_since', 'in', 0, '1', 'dateTime', 'Only a card whose content changed since'),
      p('verifiableCredential', 'out', 0, '*', 'string', 'A signed card (JWS)'),
      p('resourceLink', 'out', 0, '*', undefined, 'Where each resource of the card is hosted', {
        part: [
          p('bundledResource', 'out', 1, '1', 'uri', 'Resource reference inside the card'),
          p('hostedResource', 'out', 1, '1', 'uri', 'Its URL on this server'),
          p('vcIndex', 'out', 0, '1', 'integer', 'Which card'),
        ],
      }),
    ],
  },
  {
    id: 'ImmDSForecastOperation', url: 'http://hl7.org/fhir/us/immds/OperationDefinition/ImmDSForecastOperation', code: 'immds-forecast',
    title: 'Immunization Decision Support Forecast',
    description: "Evaluates each dose sent against CDC's CDSi logic and supporting data and forecasts the next dose of every vaccine group (HL7 ImmDS Forecast IG STU1). Stateless: nothing is read or stored. Offered when the hub runs the CDSi engine (CDSI_DATA_DIR). Bad input (no birthDate, a dose before birth or after assessmentDate, a dose without CVX) is a 400 naming the parameter; a CVX the supporting data does not know is evaluated as unknown and reported, never dropped.",
    system: true, type: false, instance: false, affectsState: false,
    parameter: immdsParams,
  },
  {
    id: 'patient-immds-forecast', url: hubOperationCanonical('patient-immds-forecast'), code: 'immds-forecast',
    title: "Forecast a stored patient's immunizations",
    description: "The ImmDS forecast for a stored person: their doses the hub stands behind (a patient's own report counts once staff verify it; entered-in-error and not-done doses never), as of today in the hub's time zone or assessmentDate. The same output as the system-level operation; doses left out are named in `information`.",
    resource: ['Patient'], system: false, type: false, instance: true, affectsState: false,
    parameter: [p('assessmentDate', 'in', 0, '1', 'date', "The date to assess as of (default: today)"), ...immdsParams.filter((x) => x.use === 'out')],
  },
  {
    id: 'export', url: `${BULK}/export`, code: 'export', title: 'FHIR Bulk Data system-level export',
    description: 'Kick-off of an asynchronous export of the data the caller may read (Prefer: respond-async; answers 202 with the status URL).',
    system: true, type: false, instance: false, affectsState: false, parameter: exportParams,
  },
  {
    id: 'patient-export', url: `${BULK}/patient-export`, code: 'export', title: 'FHIR Bulk Data patient-level export',
    description: "Kick-off of an asynchronous export of the patients' compartments the caller may read.",
    resource: ['Patient'], system: false, type: true, instance: false, affectsState: false,
    parameter: [...exportParams, p('patient', 'in', 0, '*', 'Reference', 'Only these patients')],
  },
  {
    id: 'group-export', url: `${BULK}/group-export`, code: 'export', title: 'FHIR Bulk Data group-level export',
    description: "Kick-off of an asynchronous export of the compartments of a Group's members.",
    resource: ['Group'], system: false, type: false, instance: true, affectsState: false, parameter: exportParams,
  },
];

function toResource(d: Def): OperationDefinition {
  return {
    resourceType: 'OperationDefinition',
    id: d.id,
    url: d.url,
    name: d.title.replace(/[^A-Za-z0-9]/g, ''),
    title: d.title,
    status: 'active',
    kind: 'operation',
    publisher: 'vaxhub',
    description: d.description,
    affectsState: d.affectsState,
    code: d.code,
    ...(d.resource ? { resource: d.resource as NonNullable<OperationDefinition['resource']> } : {}),
    system: d.system,
    type: d.type,
    instance: d.instance,
    parameter: d.parameter,
  };
}

let resources: OperationDefinition[] | undefined;

export function hubOperationDefinitions(): OperationDefinition[] {
  return (resources ??= DEFS.map(toResource));
}
