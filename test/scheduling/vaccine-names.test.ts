/**
 * One name per vaccine in every language (issue 22, item 5): every product of the catalogue and every CVX code the
 * apps name has a Spanish and a Korean name; the apps and the mails read the same tables.
 */
import { loadProducts } from '../../src/scheduling/products.js';
import { loadVaccineNames, vaccineNameIn } from '../../src/scheduling/vaccine-names.js';
import { vaccineName, conceptText } from '../../smart-apps/shared/fhir-text.js';
import { setLanguage } from '../../smart-apps/shared/i18n.js';

const products = loadProducts();
const names = loadVaccineNames(products.products);

describe('vaccine names', () => {
  it('names every known code in every language', () => {
    const codes = new Set([...products.products.map((p) => p.cvx), ...Object.keys(names.en)]);
    const missing = [...codes].flatMap((cvx) => (['en', 'es', 'ko'] as const).filter((l) => !names[l][cvx]?.trim()).map((l) => `${cvx}:${l}`));
    expect(missing).toEqual([]);
  });

  it('gives the catalogue name in English and the translation otherwise, in the mails and the apps alike', () => {
    expect(vaccineNameIn(names, '207', 'en')).toBe('Moderna COVID-19 Vaccine');
    expect(vaccineNameIn(names, '207', 'es-US')).toBe('Vacuna contra el COVID-19 de Moderna');
    expect(vaccineNameIn(names, '187', 'ko')).toBe('싱그릭스 (대상포진)');
    expect(vaccineNameIn(names, '999', 'es')).toBeUndefined();
    for (const lang of ['en', 'es', 'ko']) {
      for (const cvx of Object.keys(names.en)) expect(vaccineName(cvx, lang)).toBe(vaccineNameIn(names, cvx, lang));
    }
    // CVX 300 is Pfizer-BioNTech's (the viewer once called it Moderna's).
    expect(vaccineName('300', 'en')).toMatch(/^Pfizer-BioNTech/);
  });

  it('shows body sites in the page language whatever the record says', () => {
    const site = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActSite', code: 'LA', display: 'left arm' }] };
    setLanguage('es');
    expect(conceptText(site)).toBe('Brazo izquierdo');
    expect(conceptText({ coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] })).toBe('Vacuna contra el COVID-19 de Pfizer-BioNTech (tapa morada, diluir)');
    setLanguage('ko');
    expect(conceptText({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0163', code: 'RD' }] })).toBe('오른쪽 삼각근 (위팔)');
    setLanguage('en');
    expect(conceptText(site)).toBe('Left arm');
  });
});
