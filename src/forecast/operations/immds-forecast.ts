/**
 * `$immds-forecast`, both forms:
 *  - `POST [base]/$immds-forecast` (HL7 ImmDS Forecast IG STU1): the history travels in the request; stateless,
 *    nothing is read or stored. Any caller with an Immunization read scope may use it (a patient's app, an EHR, a
 *    registry, staff): it reveals nothing the caller did not send, and it is the same question a clinician asks.
 *  - `GET|POST [base]/Patient/[id]/$immds-forecast` (the hub's own): the stored person's doses as of today (or
 *    `assessmentDate`), for callers who may read that Patient and their Immunizations; a patient token only for
 *    themselves, anyone else outside their compartment answers 404, as a read would.
 * Registered only when CDSI_DATA_DIR is set: without the CDSi engine the hub makes no claim to forecast by CDC's
 * rules (the CapabilityStatement then lists neither form).
 * @see http://hl7.org/fhir/us/immds/OperationDefinition/ImmDSForecastOperation
 */
import type { Parameters } from 'fhir/r4';
import { issue, validationError } from '../../fhir/outcomes.js';
import { fhirCalendarDay } from '../../fhir/dates.js';
import type { FhirContext, FhirRequest, OperationDefinition } from '../../fhir/types.js';
import { loadAuthorizedRecord } from '../../credentials/patient-access.js';
import { ForecastInputError } from '../engine.js';
import type { Forecaster } from '../forecaster.js';
import { todayIn } from '../forecaster.js';
import { readImmdsParameters, type ImmdsRequest } from '../immds/request.js';
import { immdsAnswerBody } from '../immds/response.js';
import { storedHistory } from '../stored-history.js';
import { hubOperationCanonical } from '../../fhir/conformance/operation-definitions.js';

export const IMMDS_FORECAST_DEFINITION = 'http://hl7.org/fhir/us/immds/OperationDefinition/ImmDSForecastOperation';

const FHIR_JSON = { 'content-type': 'application/fhir+json' };

/** Runs the engine; input the engine itself refuses is the caller's 400, naming the parameter. */
function answer(forecaster: Forecaster, request: ImmdsRequest): Parameters {
  try {
    const result = forecaster.forecast(request.input);
    const { assessmentDate } = request.input;
    const ctx = request.patientReference
      ? { patientReference: request.patientReference, assessmentDate, rules: forecaster.rules, skipped: request.skipped }
      : { assessmentDate, rules: forecaster.rules, skipped: request.skipped };
    return immdsAnswerBody(result, ctx);
  } catch (e) {
    if (e instanceof ForecastInputError) throw validationError(400, [issue('error', 'invalid', e.message, e.parameter)]);
    throw e;
  }
}

/** The assessment date of the instance form: `assessmentDate` from the query or a Parameters body, else today. */
function assessmentDateOf(req: FhirRequest, timeZone: string): string {
  const fromQuery = req.query.assessmentDate;
  const body = req.body as Parameters | undefined;
  const fromBody = body?.resourceType === 'Parameters' ? body.parameter?.find((p) => p.name === 'assessmentDate') : undefined;
  const raw = Array.isArray(fromQuery) ? fromQuery[0] : fromQuery ?? fromBody?.valueDate ?? fromBody?.valueDateTime;
  if (raw === undefined) return todayIn(timeZone);
  const day = fhirCalendarDay(raw);
  if (!day) throw validationError(400, [issue('error', 'invalid', `assessmentDate must be a date (YYYY-MM-DD), got ${JSON.stringify(raw)}`, 'assessmentDate')]);
  return day;
}

export function immdsForecastOperations(forecaster: Forecaster, opts: { timeZone: string }): OperationDefinition[] {
  return [
    {
      name: 'immds-forecast',
      resourceTypes: [],
      levels: ['system'],
      methods: ['POST'],
      access: { interaction: 'read', resourceType: 'Immunization' },
      definition: IMMDS_FORECAST_DEFINITION,
      async handler(req) {
        return { status: 200, body: answer(forecaster, readImmdsParameters(req.body)), headers: FHIR_JSON };
      },
    },
    {
      name: 'immds-forecast',
      resourceTypes: ['Patient'],
      levels: ['instance'],
      methods: ['GET', 'POST'],
      access: { interaction: 'read', resourceType: 'Immunization', instance: 'see' },
      definition: hubOperationCanonical('patient-immds-forecast'),
      async handler(req, ctx: FhirContext) {
        const assessmentDate = assessmentDateOf(req, opts.timeZone);
        const { patient, immunizations } = await loadAuthorizedRecord(ctx, req.principal, req.id!);
        return { status: 200, body: answer(forecaster, storedHistory(patient, immunizations, assessmentDate)), headers: FHIR_JSON };
      },
    },
  ];
}
