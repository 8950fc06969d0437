/** Human text for FHIR values shown by the apps (minimized health cards carry codes without displays). */
import type { CodeableConcept, Patient } from 'fhir/r4';

/** Names of common CVX codes, for cards that (by the spec) carry no display text. */
const CVX_NAMES: Record<string, string> = {
  '207': 'Moderna COVID-19',
  '208': 'Pfizer-BioNTech COVID-19',
  '210': 'AstraZeneca COVID-19',
  '211': 'Novavax COVID-19',
  '212': 'Janssen COVID-19',
  '213': 'COVID-19, unspecified',
  '217': 'Pfizer-BioNTech COVID-19 (12+)',
  '218': 'Pfizer-BioNTech COVID-19 (5-11)',
  '219': 'Pfizer-BioNTech COVID-19 (6m-4)',
  '221': 'Moderna COVID-19 (booster)',
  '300': 'Moderna COVID-19, bivalent',
  '301': 'Pfizer-BioNTech COVID-19, bivalent',
  '88': 'Influenza, unspecified',
  '140': 'Influenza, seasonal, preservative free',
  '150': 'Influenza, quadrivalent, preservative free',
  '03': 'MMR',
  '115': 'Tdap',
};

const CVX = 'http://hl7.org/fhir/sid/cvx';

/** The best human text of a concept: its text, a coding's display, a known CVX name, else the code. */
export function conceptText(c: CodeableConcept | undefined): string {
  if (!c) return '';
  const coding = c.coding?.find((x) => x.display) ?? c.coding?.[0];
  if (c.text ?? coding?.display) return (c.text ?? coding?.display)!;
  if (!coding?.code) return '';
  if (coding.system === CVX) return CVX_NAMES[coding.code] ? `${CVX_NAMES[coding.code]} (CVX ${coding.code})` : `CVX ${coding.code}`;
  return coding.code;
}

export function patientName(p: Patient): string {
  const n = p.name?.find((x) => x.use === 'official') ?? p.name?.[0];
  if (!n) return '';
  return n.text ?? [...(n.given ?? []), n.family].filter(Boolean).join(' ');
}
