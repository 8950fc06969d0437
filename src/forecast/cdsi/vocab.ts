/**
 * Codes CDSi's supporting data does not carry: the CVX "unspecified formulation" code that stands for each
 * vaccine group in a forecast (HL7 ImmDS IG / CDC HL7 v2 guide practice), and SNOMED CT codes for the target
 * diseases. A group or disease missing here (a future release adding one) still forecasts: the group falls back
 * to an "unspecified formulation" CVX found in the data, the disease to its CDSi name without a system.
 */
import type { TargetDisease } from '../engine.js';

export const GROUP_CVX: Readonly<Record<string, string>> = {
  Cholera: '26',
  'COVID-19': '213',
  'DTaP/Tdap/Td': '107',
  Ebola: '204',
  HepA: '85',
  HepB: '45',
  Hib: '17',
  HPV: '137',
  Influenza: '88',
  'Japanese Encephalitis': '129',
  Meningococcal: '108',
  'Meningococcal B': '164',
  MMR: '03',
  Pneumococcal: '152',
  Polio: '89',
  Rabies: '90',
  Rotavirus: '122',
  Typhoid: '91',
  Varicella: '21',
  'Yellow Fever': '184',
  Zoster: '188',
};

export const SNOMED = 'http://snomed.info/sct';

const DISEASE_SNOMED: Readonly<Record<string, [string, string]>> = {
  Cholera: ['63650001', 'Cholera'],
  'COVID-19': ['840539006', 'Disease caused by severe acute respiratory syndrome coronavirus 2'],
  Diphtheria: ['397428000', 'Diphtheria'],
  Ebola: ['37109004', 'Ebola virus disease'],
  HepA: ['40468003', 'Viral hepatitis, type A'],
  HepB: ['66071002', 'Viral hepatitis type B'],
  Hib: ['709410003', 'Haemophilus influenzae type b infection'],
  HPV: ['240532009', 'Human papilloma virus infection'],
  Influenza: ['6142004', 'Influenza'],
  'Japanese Encephalitis': ['52947006', 'Japanese encephalitis virus disease'],
  Measles: ['14189004', 'Measles'],
  Meningococcal: ['23511006', 'Meningococcal infectious disease'],
  'Meningococcal B': ['23511006', 'Meningococcal infectious disease'],
  Mumps: ['36989005', 'Mumps'],
  Pertussis: ['27836007', 'Pertussis'],
  Pneumococcal: ['16814004', 'Pneumococcal infectious disease'],
  Polio: ['398102009', 'Acute poliomyelitis'],
  Rabies: ['14168008', 'Rabies'],
  Rotavirus: ['18624000', 'Disease due to Rotavirus'],
  Rubella: ['36653000', 'Rubella'],
  Tetanus: ['76902006', 'Tetanus'],
  Typhoid: ['4834000', 'Typhoid fever'],
  Varicella: ['38907003', 'Varicella'],
  'Yellow Fever': ['16541001', 'Yellow fever'],
  Zoster: ['4740000', 'Herpes zoster'],
};

export function targetDisease(antigen: string): TargetDisease {
  const s = DISEASE_SNOMED[antigen];
  return s ? { system: SNOMED, code: s[0], display: s[1] } : { code: antigen, display: antigen };
}
