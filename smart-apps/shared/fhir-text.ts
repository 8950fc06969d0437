/** Human text for FHIR values shown by the apps (minimized health cards carry codes without displays). */
import type { CodeableConcept, Patient } from 'fhir/r4';
import catalogue from '../../profiles/vaccine-products.json' with { type: 'json' };

/**
 * A vaccine's name, by CVX code: the hub's product catalogue (profiles/vaccine-products.json) first, the same names
 * the hub's pages, mails and console use, so one dose has one name on the wallet, the booked page and "My booking".
 */
const CATALOGUE_NAMES: Record<string, string> = Object.fromEntries(
  (catalogue.products as { cvx: string; tradeName?: string; display: string }[]).map((p) => [p.cvx, p.tradeName ?? p.display]),
);

/** CVX codes that older cards and registries carry but the catalogue does not list (CDC CVX table). */
const OTHER_CVX_NAMES: Record<string, string> = {
  '210': 'AstraZeneca COVID-19 Vaccine',
  '213': 'COVID-19 vaccine, unspecified',
  '218': 'Pfizer-BioNTech COVID-19 Vaccine (5-11 years, orange cap)',
  '219': 'Pfizer-BioNTech COVID-19 Vaccine (6 months-4 years, maroon cap)',
  '301': 'Pfizer-BioNTech COVID-19 Vaccine, Bivalent (5-11 years)',
  '88': 'Influenza vaccine, unspecified',
  '140': 'Influenza vaccine, seasonal, preservative free',
};

/** The name people know a vaccine by, from its CVX code; undefined for a code the hub does not know. */
export function vaccineName(cvx: string): string | undefined {
  return CATALOGUE_NAMES[cvx] ?? OTHER_CVX_NAMES[cvx];
}

const CVX = 'http://hl7.org/fhir/sid/cvx';

/**
 * The best human text of a concept: a known vaccine's catalogue name (before the record's own text, which differs
 * between senders for the same product), else its text, a coding's display, else the code.
 */
export function conceptText(c: CodeableConcept | undefined): string {
  if (!c) return '';
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
