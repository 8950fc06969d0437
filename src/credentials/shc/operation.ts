/**
 * `POST /fhir/Patient/[id]/$health-cards-issue`, ready for the FHIR router. Access follows the FHIR API's rules
 * (../patient-access.ts): a patient only for themselves, others by scope and compartment; outside it, 404.
 * @see https://hl7.org/fhir/uv/smart-health-cards-and-links/OperationDefinition-patient-i-health-cards-issue.html
 */
import type { Parameters } from 'fhir/r4';
import type { Principal } from '../../auth/principal.js';
import { badRequest } from '../../fhir/outcomes.js';
import type { FhirContext, OperationDefinition } from '../../fhir/types.js';
import type { Db } from '../../store/db.js';
import { valueSetMembership } from '../../fhir/conformance/terminology.js';
import { loadAuthorizedRecord, type RecordSource } from '../patient-access.js';
import { shcServices, type ShcConfig } from './context.js';
import { issueHealthCards, type ValueSetResolver } from './issue.js';

export const HEALTH_CARDS_ISSUE_DEFINITION =
  'http://hl7.org/fhir/uv/smart-health-cards-and-links/OperationDefinition/patient-i-health-cards-issue';

/**
 * Value sets from the hub's conformance catalogue (/fhir/ValueSet): the SMART Health Cards value sets and the hub's
 * own. A value set the hub does not serve is unknown (the operation answers 400 naming it).
 */
export const catalogueValueSetResolver: ValueSetResolver = async (url) => valueSetMembership(url);

/** Issues the person's card(s) for a caller the access rules admit (shared by the operation and the download routes). */
export async function issueForPatient(
  src: RecordSource & { db: Db },
  config: ShcConfig,
  principal: Principal,
  patientId: string,
  params: Parameters,
  fhirBaseUrl: string,
): Promise<Parameters> {
  const { patient, immunizations } = await loadAuthorizedRecord(src, principal, patientId);
  const { keys, revocations } = shcServices(src.db, config);
  return issueHealthCards({
    patient,
    immunizations,
    params,
    issuer: { iss: config.iss, fhirBaseUrl, lifetimeSeconds: config.lifetimeSeconds },
    keys,
    revocations,
    resolveValueSet: catalogueValueSetResolver,
  });
}

export function createHealthCardsIssueOperation(config: ShcConfig): OperationDefinition {
  return {
    name: 'health-cards-issue',
    resourceTypes: ['Patient'],
    levels: ['instance'],
    methods: ['POST'],
    access: { interaction: 'read', instance: 'see' },
    definition: HEALTH_CARDS_ISSUE_DEFINITION,
    async handler(req, ctx: FhirContext) {
      if (!req.id) throw badRequest('$health-cards-issue is an instance operation: Patient/[id]/$health-cards-issue');
      const body = await issueForPatient(ctx, config, req.principal, req.id, req.body as Parameters, req.baseUrl);
      return { status: 200, body, headers: { 'content-type': 'application/fhir+json' } };
    },
  };
}
