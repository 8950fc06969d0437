/**
 * The VIS observations of a VXU, in one of the two forms the CDC IG (Release 1.5, 6.10 and appendix) allows:
 *  A: bar-coded VIS document type 69764-9 (GS1 string, cdcgs1vis) + date presented 29769-7;
 *  B: vaccine type 30956-7 (CVX) + VIS publication date 29768-9 + date presented 29769-7.
 * All OBX of one VIS share one OBX-4 sub-id.
 */
import type { ImmunizationEducation } from 'fhir/r4';
import { fhirToHl7Date } from './hl7-datetime.js';
import type { Hl7FieldInput } from './hl7-message.js';

export interface ObxDraft {
  type: 'CE' | 'TS' | 'DT' | 'NM';
  loinc: [string, string];
  subId: number;
  value: Hl7FieldInput;
  method?: Hl7FieldInput;
  /** OBX-14 as a FHIR date(Time), when it is not the dose's own date (a reaction's onset). */
  observed?: string;
}

/** A GS1-128 VIS barcode string is a long run of digits (e.g. 253088698300026411121116). */
const GS1_VIS = /^\d{16,}$/;

/** CE.2 text for the VIS: education.reference is a uri in FHIR, so only a plain name (not a URL) is usable as text. */
function visName(reference: string | undefined): string {
  return reference && !/^[a-z][a-z0-9+.-]*:/i.test(reference) ? reference : '';
}

export function visObservations(ed: ImmunizationEducation, doseCvx: string, subId: number): ObxDraft[] {
  const presented = fhirToHl7Date(ed.presentationDate);
  if (!presented) return [];
  const presentedObx: ObxDraft = { type: 'TS', loinc: ['29769-7', 'Date vaccine information statement presented'], subId, value: presented };
  if (ed.documentType && GS1_VIS.test(ed.documentType)) {
    return [
      { type: 'CE', loinc: ['69764-9', 'Document type'], subId, value: [ed.documentType, visName(ed.reference), 'cdcgs1vis'] },
      presentedObx,
    ];
  }
  const published = fhirToHl7Date(ed.publicationDate);
  if (!published) return [];
  // Form B: the VIS is identified by the vaccine it covers; a CVX code in documentType names it, else the dose's.
  const vaccine = ed.documentType && /^\d{1,3}$/.test(ed.documentType) ? ed.documentType : doseCvx;
  return [
    { type: 'CE', loinc: ['30956-7', 'Vaccine type'], subId, value: [vaccine, '', 'CVX'] },
    { type: 'TS', loinc: ['29768-9', 'Date vaccine information statement published'], subId, value: published },
    presentedObx,
  ];
}
