/**
 * The value sets and code systems the hub uses, as FHIR resources it serves read-only (`/fhir/ValueSet`,
 * `/fhir/CodeSystem`), and the membership test `$health-cards-issue` filters doses with (`credentialValueSet`).
 *  - the hub's own: its vaccine products (profiles/vaccine-products.json), its error codes (outcomes.ts), its
 *    profile-rule codes (profiles/vaxhub-rules.json);
 *  - the SMART Health Cards value sets a wallet or verifier names in `credentialValueSet`
 *    (terminology.smarthealth.cards, and the HL7 SHC Vaccination IG's all-CVX set), with the codes the hub's copy
 *    carries: the CVX codes of the published sets (and the published SNOMED CT codes for the two big COVID-19
 *    vaccines), which is what the hub's doses are coded with (a completed dose must carry CVX: vaxhub-imm-2).
 * @see https://hl7.org/fhir/R4/valueset.html
 * @see https://hl7.org/fhir/uv/smart-health-cards-and-links/OperationDefinition-patient-i-health-cards-issue.html
 */
import type { CodeSystem, ValueSet } from 'fhir/r4';
import { loadProducts } from '../../scheduling/products.js';
import { ERROR_CATALOGUE, ERROR_CODE_SYSTEM } from '../outcomes.js';
import { PROFILE_RULE_SYSTEM, ProfileRuleSet } from '../validation/profiles.js';
import { SYMPTOMS, SYMPTOM_SYSTEM, SYMPTOM_VALUE_SET } from '../../safety/symptoms.js';
import { EXTENDED_OBSERVATION, OBSERVATION_FLAG_SYSTEM } from '../../safety/observation/history.js';
import { followupCodeSystems } from '../../safety/followup/code-systems.js';

export const CVX = 'http://hl7.org/fhir/sid/cvx';
const SNOMED = 'http://snomed.info/sct';
export const HUB_CANONICAL_BASE = 'https://vaxhub.org/fhir';
export const VACCINE_PRODUCTS_VALUE_SET = `${HUB_CANONICAL_BASE}/ValueSet/vaccine-products`;
export const ERROR_CODES_VALUE_SET = `${HUB_CANONICAL_BASE}/ValueSet/error-codes`;
const SHC = 'https://terminology.smarthealth.cards/ValueSet';

/** CVX codes of COVID-19 vaccines in the SMART Health Cards value set immunization-covid-cvx (2023 releases). */
const COVID_CVX = [
  '207', '208', '210', '211', '212', '217', '218', '219', '221', '225', '226', '227', '228', '229', '230',
  '300', '301', '302', '308', '309', '310', '311', '312', '313',
  ...Array.from({ length: 20 }, (_, i) => String(501 + i)),
];
/** SNOMED CT codes of the mRNA and viral-vector COVID-19 vaccines in immunization-covid-all. */
const COVID_SNOMED = ['1031000172108', '10871000172106', '10891000172107', '10901000172106'];
/** Orthopoxvirus (smallpox, mpox) vaccines: JYNNEOS and ACAM2000. */
const ORTHOPOXVIRUS_CVX = ['206', '75'];

function shcValueSet(id: string, title: string, include: NonNullable<ValueSet['compose']>['include'], description: string): ValueSet {
  return {
    resourceType: 'ValueSet',
    id: `shc-${id}`,
    url: `${SHC}/${id}`,
    name: title.replace(/[^A-Za-z0-9]/g, ''),
    title,
    status: 'active',
    publisher: 'vaxhub (copy of the SMART Health Cards terminology value set)',
    description,
    compose: { include },
  };
}

const codes = (system: string, list: string[], display?: (code: string) => string | undefined) => ({
  system,
  concept: list.map((code) => ({ code, ...(display?.(code) ? { display: display(code) } : {}) })),
});

function buildValueSets(): ValueSet[] {
  const products = loadProducts().products;
  const productDisplay = (code: string) => products.find((p) => p.cvx === code)?.name;
  const covidCvx = codes(CVX, COVID_CVX, productDisplay);
  const orthoCvx = codes(CVX, ORTHOPOXVIRUS_CVX);
  return [
    {
      resourceType: 'ValueSet',
      id: 'vaccine-products',
      url: VACCINE_PRODUCTS_VALUE_SET,
      name: 'VaxhubVaccineProducts',
      title: 'Vaccine products the hub offers',
      status: 'active',
      publisher: 'vaxhub',
      description: 'CVX codes of the vaccine products the hub schedules and records (profiles/vaccine-products.json); `vaccine-product` search and $find take these codes.',
      compose: { include: [{ system: CVX, concept: products.map((p) => ({ code: p.cvx, display: p.name })) }] },
    },
    {
      resourceType: 'ValueSet',
      id: 'error-codes',
      url: ERROR_CODES_VALUE_SET,
      name: 'VaxhubErrorCodes',
      title: 'vaxhub error codes',
      status: 'active',
      publisher: 'vaxhub',
      description: 'Every code the hub puts in OperationOutcome.issue.details.coding.',
      compose: { include: [{ system: ERROR_CODE_SYSTEM }] },
    },
    {
      resourceType: 'ValueSet',
      id: 'reaction-symptoms',
      url: SYMPTOM_VALUE_SET,
      name: 'VaxhubReactionSymptoms',
      title: 'Symptoms after a vaccination',
      status: 'active',
      publisher: 'vaxhub',
      description:
        'The symptoms a clinic or a person reports after a dose (AdverseEvent extension adverse-event-symptom and event): every code of the hub CodeSystem reaction-symptom, in plain words with Spanish and Korean designations.',
      compose: { include: [{ system: SYMPTOM_SYSTEM }] },
    },
    shcValueSet('immunization-covid-cvx', 'Immunization / COVID / CVX', [covidCvx], 'CVX codes of COVID-19 vaccines.'),
    shcValueSet('immunization-covid-all', 'Immunization / COVID / All codes', [covidCvx, codes(SNOMED, COVID_SNOMED)], 'COVID-19 vaccines: the CVX codes of immunization-covid-cvx and SNOMED CT codes.'),
    shcValueSet('immunization-orthopoxvirus-cvx', 'Immunization / orthopoxvirus / CVX', [orthoCvx], 'CVX codes of orthopoxvirus (smallpox, mpox) vaccines.'),
    shcValueSet('immunization-orthopoxvirus-all', 'Immunization / orthopoxvirus / All codes', [orthoCvx], 'Orthopoxvirus (smallpox, mpox) vaccines: the CVX codes of immunization-orthopoxvirus-cvx.'),
    shcValueSet('immunization-all-cvx', 'Immunization / All / CVX', [{ system: CVX }], 'Every CVX code.'),
    {
      ...shcValueSet('immunization-all-cvx', 'Immunization / All / CVX', [{ system: CVX }], 'Every CVX code (HL7 SMART Health Cards: Vaccination & Testing IG).'),
      id: 'shc-vaccination-immunization-all-cvx',
      url: 'http://hl7.org/fhir/uv/shc-vaccination/ValueSet/immunization-all-cvx',
      publisher: 'vaxhub (copy of the HL7 SHC Vaccination IG value set)',
    },
  ];
}

function buildCodeSystems(): CodeSystem[] {
  const rules = ProfileRuleSet.load().rules;
  return [
    {
      resourceType: 'CodeSystem',
      id: 'error-code',
      url: ERROR_CODE_SYSTEM,
      name: 'VaxhubErrorCode',
      title: 'vaxhub error codes',
      status: 'active',
      publisher: 'vaxhub',
      description: 'Stable codes in OperationOutcome.issue.details.coding; each with the HTTP status it is answered with.',
      caseSensitive: true,
      valueSet: ERROR_CODES_VALUE_SET,
      content: 'complete',
      property: [{ code: 'http-status', description: 'HTTP status the error is answered with', type: 'integer' }],
      concept: Object.entries(ERROR_CATALOGUE).map(([code, e]) => ({ code, display: e.message, property: [{ code: 'http-status', valueInteger: e.status }] })),
    },
    {
      resourceType: 'CodeSystem',
      id: 'reaction-symptom',
      url: SYMPTOM_SYSTEM,
      name: 'VaxhubReactionSymptom',
      title: 'Symptoms after a vaccination',
      status: 'active',
      publisher: 'vaxhub',
      description:
        "Plain-language symptoms after a vaccination (not MedDRA). Property `snomed` names the SNOMED CT concept a code is; `cdc-reaction` the CDC reaction code (HL7 v2.5.1 IG, OBX 31044-1) a registry receives it as; `immediate` marks reactions within minutes of a dose (the observation wait's concern); `alarming` the signs of a serious event.",
      caseSensitive: true,
      valueSet: SYMPTOM_VALUE_SET,
      content: 'complete',
      property: [
        { code: 'snomed', description: 'The SNOMED CT concept this symptom is', type: 'code' },
        { code: 'cdc-reaction', description: 'CDC reaction code (OBX 31044-1 value; SNOMED CT or CDCPHINVS VXC code)', type: 'code' },
        { code: 'immediate', description: 'A reaction within minutes of a dose', type: 'boolean' },
        { code: 'alarming', description: 'A sign of a serious adverse event', type: 'boolean' },
      ],
      concept: SYMPTOMS.map((s) => ({
        code: s.code,
        display: s.display.en,
        designation: [
          { language: 'es', value: s.display.es },
          { language: 'ko', value: s.display.ko },
        ],
        property: [
          ...(s.snomed ? [{ code: 'snomed', valueCode: s.snomed }] : []),
          ...(s.cdc ? [{ code: 'cdc-reaction', valueCode: s.cdc.code }] : []),
          { code: 'immediate', valueBoolean: s.immediate === true },
          { code: 'alarming', valueBoolean: s.alarming === true },
        ],
      })),
    },
    {
      resourceType: 'CodeSystem',
      id: 'observation-flag',
      url: OBSERVATION_FLAG_SYSTEM,
      name: 'VaxhubObservationFlag',
      title: 'Flags for the observation wait after a dose',
      status: 'active',
      publisher: 'vaxhub',
      description: 'Flag.code values the clinic check-out reads (profiles/observation-rules.json, rule when=flag).',
      caseSensitive: true,
      content: 'complete',
      concept: [{ code: EXTENDED_OBSERVATION, display: 'Observe longer after vaccination (30 minutes by default)' }],
    },
    ...followupCodeSystems(),
    {
      resourceType: 'CodeSystem',
      id: 'profile-rule',
      url: PROFILE_RULE_SYSTEM,
      name: 'VaxhubProfileRule',
      title: 'vaxhub profile rules',
      status: 'active',
      publisher: 'vaxhub',
      description: 'The rules of profiles/vaxhub-rules.json, named in OperationOutcome.issue.details when one is broken.',
      caseSensitive: true,
      content: 'complete',
      concept: rules.map((r) => ({ code: r.id, display: r.message })),
    },
  ];
}

let valueSets: ValueSet[] | undefined;
let codeSystems: CodeSystem[] | undefined;

export function hubValueSets(): ValueSet[] {
  return (valueSets ??= buildValueSets());
}

export function hubCodeSystems(): CodeSystem[] {
  return (codeSystems ??= buildCodeSystems());
}

/** Whether a coding is in a value set; `system|code` keys, as ValueSetResolver in credentials/shc/issue.ts. */
export interface ValueSetMembership {
  has(systemAndCode: string): boolean;
}

/**
 * Membership of a value set the hub serves, from its `compose` (a listed concept, or any code of an included system
 * listed without concepts); undefined when the hub does not know the value set. A canonical with `|version` is
 * matched on its URL part.
 */
export function valueSetMembership(canonical: string): ValueSetMembership | undefined {
  const url = canonical.split('|')[0]!;
  const vs = hubValueSets().find((v) => v.url === url);
  if (!vs) return undefined;
  const listed = new Set<string>();
  const whole = new Set<string>();
  for (const inc of vs.compose?.include ?? []) {
    if (!inc.system) continue;
    if (!inc.concept?.length) whole.add(inc.system);
    for (const c of inc.concept ?? []) listed.add(`${inc.system}|${c.code}`);
  }
  return { has: (key) => listed.has(key) || whole.has(key.slice(0, key.lastIndexOf('|'))) };
}
