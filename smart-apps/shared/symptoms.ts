/** The hub's symptom list (src/safety/symptoms.ts), shared so the apps and the hub say each symptom the same way. */
import { language } from './i18n.js';
import { symptomByCode, type Symptom } from '../../src/safety/symptoms.js';

export { SYMPTOMS, SYMPTOM_SYSTEM, symptomByCode, type Symptom } from '../../src/safety/symptoms.js';

/** A symptom in the reader's language. */
export function symptomText(s: Symptom | string): string {
  const sym = typeof s === 'string' ? symptomByCode(s) : s;
  if (!sym) return typeof s === 'string' ? s : '';
  return sym.display[language()] ?? sym.display.en;
}
