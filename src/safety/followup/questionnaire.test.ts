import { validateResource } from '../../fhir/validation/index.js';
import { draftAdverseEvent } from './answer.js';
import { buildQuestionnaireResponse, checkAnswer, followupQuestionnaire, isWorrying } from './questionnaire.js';
import { parseFollowupSteps } from './steps.js';

const valid = (r: unknown, type: string) => validateResource(r, { mode: 'update', supportedTypes: [type] });

describe('follow-up check-in resources', () => {
  it('the published Questionnaire is valid R4, with every text in Spanish and Korean', () => {
    const q = followupQuestionnaire();
    const v = valid(q, 'Questionnaire');
    expect(v.issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(v.status).toBeUndefined();
    for (const item of q.item!) {
      const langs = (item as unknown as { _text: { extension: Array<{ extension: Array<{ url: string; valueCode?: string; valueString?: string }> }> } })._text.extension
        .map((e) => [e.extension.find((x) => x.url === 'lang')!.valueCode, Boolean(e.extension.find((x) => x.url === 'content')!.valueString)]);
      expect(langs).toEqual([['es', true], ['ko', true]]);
    }
  });

  it('answers are checked: feeling and care are required, "something else" needs words, unknown symptoms are dropped', () => {
    expect(checkAnswer({}).errors).toEqual({ feeling: 'required', care: 'required' });
    expect(checkAnswer({ feeling: 'well', care: 'none', symptoms: 'other' }).errors).toEqual({ words: 'needOther' });
    expect(checkAnswer({ feeling: 'well', care: 'none', words: 'x'.repeat(2001) }).errors).toEqual({ words: 'tooLong' });
    const ok = checkAnswer({ feeling: 'mild', care: 'doctor', symptoms: ['fever', 'no-such', 'fever'] }).answer!;
    expect(ok.symptoms.map((s) => s.code)).toEqual(['fever']);
    expect(isWorrying(ok)).toBe(false);
    expect(isWorrying({ ...ok, care: 'emergency' })).toBe(true);
    expect(isWorrying(checkAnswer({ feeling: 'well', care: 'none', symptoms: 'seizure' }).answer!)).toBe(true);
  });

  it('the QuestionnaireResponse and the AdverseEvent draft are valid R4', () => {
    const answer = checkAnswer({ feeling: 'unwell', care: 'hospital', symptoms: ['chest-pain'], words: 'Pain' }).answer!;
    const qr = buildQuestionnaireResponse({ id: 'qr1', patientId: 'p1', immunizationId: 'i1', step: 2, answer, authored: new Date('2026-01-02T10:00:00Z'), language: 'es' });
    expect(valid(qr, 'QuestionnaireResponse').issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(qr.identifier).toEqual({ system: 'https://vaxhub.org/fhir/NamingSystem/followup-answer', value: 'i1:2' });
    const ae = draftAdverseEvent({ patientId: 'p1', immunizationId: 'i1', answer, questionnaireResponseId: 'qr1', label: '7d', now: new Date('2026-01-02T10:00:00Z') });
    expect(valid({ ...ae, id: 'ae1' }, 'AdverseEvent').issues.filter((i) => i.severity === 'error')).toEqual([]);
    expect(ae).toMatchObject({ actuality: 'actual', detected: '2026-01-02T10:00:00.000Z', seriousness: { coding: [{ code: 'SeriousResultsInHospitalization' }] } });
    expect(ae.date).toBeUndefined();
    // Care alone, no symptom and no words: the event still says what happened.
    const bare = draftAdverseEvent({ patientId: 'p1', immunizationId: 'i1', answer: checkAnswer({ feeling: 'unwell', care: 'emergency' }).answer!, questionnaireResponseId: 'qr1', label: '1d', now: new Date() });
    expect(bare.event!.text).toBe('Follow-up check-in (1d after the dose): needed care (emergency), feeling unwell');
  });

  it('steps parse as offsets that grow, and refuse anything else', () => {
    expect(parseFollowupSteps('1d,7d,6w').map((s) => s.afterMs / 86_400_000)).toEqual([1, 7, 42]);
    expect(parseFollowupSteps(' 2h , 3d ').map((s) => s.label)).toEqual(['2h', '3d']);
    expect(() => parseFollowupSteps('7d,1d')).toThrow(/must grow/);
    expect(() => parseFollowupSteps('1y')).toThrow(/not a number followed by/);
    expect(() => parseFollowupSteps('')).toThrow(/1 to 10 steps/);
    expect(() => parseFollowupSteps('60w')).toThrow(/within a year/);
  });
});
