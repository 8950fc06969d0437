/** Human text for FHIR values shown by the apps (minimized health cards carry codes without displays). */
import type { CodeableConcept, Patient } from 'fhir/r4';
import catalogue from '../../profiles/vaccine-products.json' with { type: 'json' };
import names from '../../profiles/vaccine-names.json' with { type: 'json' };
import { vaccineNameIn, vaccineNameTables } from '../../src/scheduling/vaccine-name-tables.js';
import { isMessageKey, language, t, type MessageKey } from './i18n.js';

/**
 * A vaccine's name, by CVX code, in the page's language: the hub's product catalogue (profiles/vaccine-products.json)
 * and its translations (profiles/vaccine-names.json), the same names the hub's mails use, so one dose has one
 * name on the wallet, the booked page and "My booking".
 */
const NAMES = vaccineNameTables(
  (catalogue.products as { cvx: string; tradeName?: string; display: string }[]).map((p) => ({ cvx: p.cvx, name: p.tradeName ?? p.display })),
  names as Partial<Record<'en' | 'es' | 'ko', Record<string, string>>>,
);

/** The name people know a vaccine by, from its CVX code; undefined for a code the hub does not know. */
export function vaccineName(cvx: string, lang: string = language()): string | undefined {
  return vaccineNameIn(NAMES, cvx, lang);
}

const CVX = 'http://hl7.org/fhir/sid/cvx';

/**
 * The best human text of a concept: a known vaccine's catalogue name (before the record's own text, which differs
 * between senders for the same product), else its text, a coding's display, else the code.
 */
const BODY_SITE_SYSTEMS = ['http://terminology.hl7.org/CodeSystem/v3-ActSite', 'http://terminology.hl7.org/CodeSystem/v2-0163'];

export function conceptText(c: CodeableConcept | undefined): string {
  if (!c) return '';
  // A body site the catalogue names is shown in the page's language, whatever language the record was written in.
  const site = c.coding?.find((x) => x.system && BODY_SITE_SYSTEMS.includes(x.system) && x.code && isMessageKey(`site.${x.code}`));
  if (site) return t(`site.${site.code}` as MessageKey);
  const cvx = c.coding?.find((x) => x.system === CVX && x.code && vaccineName(x.code));
  if (cvx) return vaccineName(cvx.code!)!;
  const coding = c.coding?.find((x) => x.display) ?? c.coding?.[0];
  if (c.text ?? coding?.display) return (c.text ?? coding?.display)!;
  if (!coding?.code) return '';
  return coding.system === CVX ? `CVX ${coding.code}` : coding.code;
}

export function patientName(p: Patient): string {
  const n = p.name?.find((x) => x.use === 'official') ?? p.name?.[0];
  if (!n) return '';
  return n.text ?? [...(n.given ?? []), n.family].filter(Boolean).join(' ');
}
