/**
 * Names of the eligibility answers and tiers of the default rules (profiles/priority-tiers.json) in the one
 * catalogue. A jurisdiction that adds its own codes still gets its rules' English display as a fallback.
 */
import type { Entry } from './i18n.js';

export const ELIGIBILITY_MESSAGES = {
  'occ.healthcare-personnel': { en: 'Health care personnel', es: 'Personal de salud', ko: '의료 종사자' },
  'occ.ltcf-resident': { en: 'Resident of a long-term care facility', es: 'Residente de un centro de cuidados a largo plazo', ko: '장기 요양 시설 거주자' },
  'occ.first-responder': { en: 'Firefighter, police, other first responder', es: 'Bombero, policía u otro servicio de emergencia', ko: '소방관, 경찰 등 긴급 구조 요원' },
  'occ.corrections': { en: 'Corrections officer', es: 'Agente penitenciario', ko: '교정 공무원' },
  'occ.food-agriculture': { en: 'Food and agricultural worker', es: 'Trabajador/a de alimentos y agricultura', ko: '식품·농업 종사자' },
  'occ.postal': { en: 'Postal Service worker', es: 'Trabajador/a del servicio postal', ko: '우편 서비스 종사자' },
  'occ.manufacturing': { en: 'Manufacturing worker', es: 'Trabajador/a de manufactura', ko: '제조업 종사자' },
  'occ.grocery': { en: 'Grocery store worker', es: 'Trabajador/a de supermercado', ko: '식료품점 종사자' },
  'occ.public-transit': { en: 'Public transit worker', es: 'Trabajador/a de transporte público', ko: '대중교통 종사자' },
  'occ.education': { en: 'Teacher, school staff or child-care worker', es: 'Docente, personal escolar o de cuidado infantil', ko: '교사, 학교 직원, 보육 종사자' },
  'occ.transportation-logistics': { en: 'Transportation and logistics worker', es: 'Trabajador/a de transporte y logística', ko: '운송·물류 종사자' },
  'occ.food-service': { en: 'Food service worker', es: 'Trabajador/a de servicio de comidas', ko: '외식업 종사자' },
  'occ.shelter-housing': { en: 'Shelter and housing worker', es: 'Trabajador/a de albergues y vivienda', ko: '주거·쉼터 종사자' },
  'occ.it-communication': { en: 'IT and communication worker', es: 'Trabajador/a de informática y comunicaciones', ko: 'IT·통신 종사자' },
  'occ.energy': { en: 'Energy worker', es: 'Trabajador/a de energía', ko: '에너지 종사자' },
  'occ.media': { en: 'Media worker', es: 'Trabajador/a de medios', ko: '언론 종사자' },
  'occ.legal': { en: 'Legal worker', es: 'Trabajador/a del ámbito legal', ko: '법률 종사자' },
  'occ.public-safety': { en: 'Public safety worker', es: 'Trabajador/a de seguridad pública', ko: '공공 안전 종사자' },
  'occ.water-wastewater': { en: 'Water and wastewater worker', es: 'Trabajador/a de agua y saneamiento', ko: '상하수도 종사자' },
  'occ.public-health': { en: 'Public health worker', es: 'Trabajador/a de salud pública', ko: '공중보건 종사자' },
  'occ.other': { en: 'None of the above', es: 'Ninguna de las anteriores', ko: '해당 없음' },
  'cond.cancer': { en: 'Cancer', es: 'Cáncer', ko: '암' },
  'cond.chronic-kidney-disease': { en: 'Chronic kidney disease', es: 'Enfermedad renal crónica', ko: '만성 신장 질환' },
  'cond.copd': { en: 'COPD', es: 'EPOC', ko: '만성 폐쇄성 폐질환(COPD)' },
  'cond.down-syndrome': { en: 'Down syndrome', es: 'Síndrome de Down', ko: '다운 증후군' },
  'cond.heart-condition': { en: 'Serious heart condition', es: 'Enfermedad cardíaca grave', ko: '심각한 심장 질환' },
  'cond.immunocompromised-transplant': { en: 'Weakened immune system from an organ transplant', es: 'Sistema inmunitario debilitado por un trasplante', ko: '장기 이식으로 인한 면역 저하' },
  'cond.obesity': { en: 'Obesity (BMI 30 or more)', es: 'Obesidad (IMC de 30 o más)', ko: '비만 (BMI 30 이상)' },
  'cond.pregnancy': { en: 'Pregnancy', es: 'Embarazo', ko: '임신' },
  'cond.sickle-cell-disease': { en: 'Sickle cell disease', es: 'Anemia de células falciformes', ko: '겸상 적혈구병' },
  'cond.smoking': { en: 'Smoking', es: 'Tabaquismo', ko: '흡연' },
  'cond.type-2-diabetes': { en: 'Type 2 diabetes', es: 'Diabetes tipo 2', ko: '제2형 당뇨병' },
  'tier.1a': { en: 'Phase 1a', es: 'Fase 1a', ko: '1a 단계' },
  'tier.1b': { en: 'Phase 1b', es: 'Fase 1b', ko: '1b 단계' },
  'tier.1c': { en: 'Phase 1c', es: 'Fase 1c', ko: '1c 단계' },
  'tier.2': { en: 'Phase 2', es: 'Fase 2', ko: '2 단계' },
} satisfies Record<string, Entry>;
