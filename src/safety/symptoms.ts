/**
 * The symptoms a person or a clinic may report after a dose: a short, plain-language list (not MedDRA, which needs a
 * licence and a trained coder), each with its SNOMED CT equivalent where one is exact, and the CDC's reaction code
 * (HL7 v2.5.1 IG Release 1.5, value set PHVS_VaccinationReaction_IIS, reported in OBX 31044-1) where the symptom is
 * one the registries track as a contraindication or precaution for the next dose. Served as a CodeSystem and a
 * ValueSet (/fhir/CodeSystem/reaction-symptom, /fhir/ValueSet/reaction-symptoms) with Spanish and Korean
 * designations, so the apps and the hub's mail show one wording.
 * @see https://hl7.org/fhir/R4/adverseevent-definitions.html#AdverseEvent.event
 */
import type { Coding } from 'fhir/r4';

export const SYMPTOM_SYSTEM = 'https://vaxhub.org/fhir/CodeSystem/reaction-symptom';
export const SYMPTOM_VALUE_SET = 'https://vaxhub.org/fhir/ValueSet/reaction-symptoms';
export const SNOMED = 'http://snomed.info/sct';
/** CDC's code system for the VXC reaction codes (CDCPHINVS in HL7 v2). */
export const CDC_PHINVS = 'urn:oid:2.16.840.1.114222.4.5.274';

export interface Symptom {
  code: string;
  display: { en: string; es: string; ko: string };
  snomed?: string;
  /** The CDC reaction (OBX 31044-1 value) this symptom is: a SNOMED code (SCT) or a VXC code (CDCPHINVS). */
  cdc?: { code: string; display: string; system: 'SCT' | 'CDCPHINVS' };
  /** Within minutes of a dose, the kind of reaction the observation wait is for (a history of one lengthens it). */
  immediate?: boolean;
  /** A sign of a serious event: reported by a person, it makes their report one staff must look at first. */
  alarming?: boolean;
}

export const SYMPTOMS: readonly Symptom[] = [
  { code: 'anaphylaxis', display: { en: 'Severe allergic reaction (anaphylaxis)', es: 'Reacción alérgica grave (anafilaxia)', ko: '중증 알레르기 반응(아나필락시스)' }, snomed: '39579001', cdc: { code: '39579001', display: 'Anaphylaxis', system: 'SCT' }, immediate: true, alarming: true },
  { code: 'breathing', display: { en: 'Trouble breathing', es: 'Dificultad para respirar', ko: '호흡 곤란' }, snomed: '267036007', immediate: true, alarming: true },
  { code: 'swelling-face', display: { en: 'Swelling of the face, lips or throat', es: 'Hinchazón de la cara, los labios o la garganta', ko: '얼굴, 입술 또는 목의 부기' }, snomed: '41291007', immediate: true, alarming: true },
  { code: 'collapse', display: { en: 'Collapse or shock-like state', es: 'Colapso o estado de choque', ko: '허탈 또는 쇼크 상태' }, cdc: { code: 'VXC10', display: 'Collapse or shock like state within 48 hours of dose', system: 'CDCPHINVS' }, immediate: true, alarming: true },
  { code: 'hives', display: { en: 'Hives (itchy raised welts)', es: 'Urticaria (ronchas que pican)', ko: '두드러기' }, snomed: '126485001', immediate: true },
  { code: 'fainting', display: { en: 'Fainting', es: 'Desmayo', ko: '실신' }, snomed: '271594007', immediate: true },
  { code: 'dizziness', display: { en: 'Dizziness', es: 'Mareo', ko: '어지러움' }, snomed: '404640003' },
  { code: 'injection-site', display: { en: 'Pain, redness or swelling where the shot was given', es: 'Dolor, enrojecimiento o hinchazón donde se puso la vacuna', ko: '주사 부위 통증, 발적 또는 부기' } },
  { code: 'fever', display: { en: 'Fever', es: 'Fiebre', ko: '발열' }, snomed: '386661006' },
  { code: 'high-fever', display: { en: 'Fever over 40.5 °C (105 °F)', es: 'Fiebre de más de 40.5 °C (105 °F)', ko: '40.5°C(105°F) 이상의 고열' }, cdc: { code: 'VXC12', display: 'Fever of >40.5C (105F) within 48 hours of dose', system: 'CDCPHINVS' }, alarming: true },
  { code: 'chills', display: { en: 'Chills', es: 'Escalofríos', ko: '오한' }, snomed: '43724002' },
  { code: 'headache', display: { en: 'Headache', es: 'Dolor de cabeza', ko: '두통' }, snomed: '25064002' },
  { code: 'tiredness', display: { en: 'Tiredness', es: 'Cansancio', ko: '피로' }, snomed: '84229001' },
  { code: 'muscle-pain', display: { en: 'Muscle aches', es: 'Dolores musculares', ko: '근육통' }, snomed: '68962001' },
  { code: 'joint-pain', display: { en: 'Joint pain', es: 'Dolor en las articulaciones', ko: '관절통' }, snomed: '57676002' },
  { code: 'nausea', display: { en: 'Nausea or vomiting', es: 'Náuseas o vómitos', ko: '메스꺼움 또는 구토' }, snomed: '422587007' },
  { code: 'rash', display: { en: 'Rash', es: 'Sarpullido', ko: '발진' }, snomed: '271807003', cdc: { code: 'VXC14', display: 'Rash within 14 days of dose', system: 'CDCPHINVS' } },
  { code: 'swollen-glands', display: { en: 'Swollen glands (lymph nodes)', es: 'Ganglios inflamados', ko: '림프절 부기' }, snomed: '30746006' },
  { code: 'chest-pain', display: { en: 'Chest pain', es: 'Dolor en el pecho', ko: '가슴 통증' }, snomed: '29857009', alarming: true },
  { code: 'palpitations', display: { en: 'Racing or pounding heart', es: 'Latidos del corazón rápidos o fuertes', ko: '심장 두근거림' }, snomed: '80313002', alarming: true },
  { code: 'seizure', display: { en: 'Seizure (convulsions)', es: 'Convulsiones', ko: '경련(발작)' }, snomed: '91175000', cdc: { code: 'VXC11', display: 'Convulsions (fits, seizures) within 72 hours of dose', system: 'CDCPHINVS' }, alarming: true },
  { code: 'facial-palsy', display: { en: 'Drooping on one side of the face', es: 'Caída de un lado de la cara', ko: '한쪽 얼굴 처짐' }, snomed: '193093009', alarming: true },
  { code: 'weakness-tingling', display: { en: 'Weakness or tingling in the legs or arms (Guillain-Barré)', es: 'Debilidad u hormigueo en piernas o brazos (Guillain-Barré)', ko: '다리나 팔의 힘 빠짐 또는 저림(길랭-바레)' }, snomed: '40956001', cdc: { code: 'VXC13', display: 'Guillain-Barre syndrome (GBS) within 6 weeks of dose', system: 'CDCPHINVS' }, alarming: true },
  { code: 'crying', display: { en: 'Crying for 3 hours or more that cannot be soothed (child)', es: 'Llanto inconsolable de 3 horas o más (niño)', ko: '3시간 이상 달래지지 않는 울음(아동)' }, cdc: { code: 'VXC9', display: 'Persistent, inconsolable crying lasting > 3 hours within 48 hours of dose', system: 'CDCPHINVS' } },
  { code: 'encephalopathy', display: { en: 'Confusion or decreased consciousness (encephalopathy)', es: 'Confusión o pérdida de conciencia (encefalopatía)', ko: '혼란 또는 의식 저하(뇌병증)' }, snomed: '81308009', cdc: { code: '81308009', display: 'Encephalopathy within 7 days of dose', system: 'SCT' }, alarming: true },
  { code: 'intussusception', display: { en: 'Severe belly pain with vomiting or bloody stool (child)', es: 'Dolor de barriga intenso con vómitos o heces con sangre (niño)', ko: '구토나 혈변을 동반한 심한 복통(아동)' }, cdc: { code: 'VXC15', display: 'Intussusception within 30 days of dose', system: 'CDCPHINVS' }, alarming: true },
  { code: 'other', display: { en: 'Something else (describe it)', es: 'Otra cosa (descríbala)', ko: '기타(설명해 주세요)' } },
];

const BY_CODE = new Map(SYMPTOMS.map((s) => [s.code, s]));

export function symptomByCode(code: string | undefined): Symptom | undefined {
  return code === undefined ? undefined : BY_CODE.get(code);
}

/** The hub's codes in a CodeableConcept-like list of codings (others ignored). */
export function symptomsIn(codings: ReadonlyArray<Coding | undefined>): Symptom[] {
  const out: Symptom[] = [];
  for (const c of codings) {
    const s = c?.system === SYMPTOM_SYSTEM ? symptomByCode(c.code) : undefined;
    if (s && !out.includes(s)) out.push(s);
  }
  return out;
}

/** A symptom as FHIR codings: the hub's code, and SNOMED CT's where it is the same concept. */
export function symptomCodings(s: Symptom): Coding[] {
  return [
    { system: SYMPTOM_SYSTEM, code: s.code, display: s.display.en },
    ...(s.snomed ? [{ system: SNOMED, code: s.snomed }] : []),
  ];
}
