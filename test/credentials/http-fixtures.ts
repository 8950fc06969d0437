/** A person and their doses as the hub stores them (full resources: ids, meta, text, displays), for tests and the bench. */
import { randomBytes } from 'node:crypto';
import type { AnyResource } from '../../src/store/repository-types.js';

const VACCINES = [
  { cvx: '208', display: 'COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose' },
  { cvx: '207', display: 'COVID-19, mRNA, LNP-S, PF, 100 mcg/0.5 mL dose' },
  { cvx: '140', display: 'Influenza, seasonal, injectable, preservative free' },
  { cvx: '115', display: 'Tdap' },
];

/** Patient `id` plus `doses` completed Immunizations (`${id}-imm-N`), one a month from 2021-01. */
export function patientRecord(id: string, doses: number): AnyResource[] {
  const given = id.charAt(0).toUpperCase() + id.slice(1);
  const patient: AnyResource = {
    resourceType: 'Patient',
    id,
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${given} Test</div>` },
    name: [{ family: 'Test', given: [given] }],
    birthDate: '1980-01-01',
    gender: 'female',
    telecom: [{ system: 'email', value: `${id}@example.org` }],
  };
  const imms = Array.from({ length: doses }, (_, i): AnyResource => {
    const v = VACCINES[i % VACCINES.length]!;
    const month = String((i % 12) + 1).padStart(2, '0');
    return {
      resourceType: 'Immunization', primarySource: true,
      id: `${id}-imm-${i + 1}`,
      status: 'completed',
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: v.cvx, display: v.display }], text: v.display },
      patient: { reference: `Patient/${id}` },
      occurrenceDateTime: `${2021 + Math.floor(i / 12)}-${month}-15`,
      // Lot numbers differ in random characters, as real ones do (so deflate cannot fold them together).
      lotNumber: i === 0 ? `${id}-LOT1` : `${id}-LOT${i + 1}-${randomBytes(4).toString('hex')}`,
      performer: [{ actor: { reference: 'Organization/clinic' } }],
    };
  });
  return [patient, ...imms];
}
