/**
 * The words of the follow-up pages (the check-in form, its thanks, the stop page) and of the Questionnaire the hub
 * publishes, in every language the public pages are written in. One entry per sentence; a test fails when a
 * language lacks one (test/notify/public-mail.test.ts). The mail itself is in src/notify/public-mail.ts.
 */
import { MAIL_LANGUAGES, type MailLanguage } from '../../notify/mail-locale.js';

type Entry = Record<MailLanguage, string>;

export const FOLLOWUP_TEXT = {
  title: { en: 'How are you after your vaccination?', es: '¿Cómo se siente después de vacunarse?', ko: '예방접종 후 어떠세요?' },
  intro: {
    en: 'A few questions about how you have been since {vaccine} on {date}. It takes a minute. Your answers go to the clinic\'s vaccine safety staff.',
    es: 'Unas preguntas sobre cómo ha estado desde {vaccine} el {date}. Toma un minuto. Sus respuestas llegan al personal de seguridad de vacunas de la clínica.',
    ko: '{date}에 {vaccine} 접종 후 어떻게 지내셨는지 몇 가지 여쭙니다. 1분이면 됩니다. 답변은 의료기관의 백신 안전 담당자에게 전달됩니다.',
  },
  emergency: {
    en: 'If you have trouble breathing, swelling of the face or throat, or feel very unwell, call 911 now. This form does not reach anyone right away.',
    es: 'Si tiene dificultad para respirar, hinchazón de la cara o la garganta, o se siente muy mal, llame al 911 ahora. Este formulario no llega a nadie de inmediato.',
    ko: '숨쉬기 어렵거나 얼굴이나 목이 붓거나 몸이 매우 안 좋으면 지금 바로 911에 전화하세요. 이 양식은 누구에게도 즉시 전달되지 않습니다.',
  },
  feeling: { en: 'How are you feeling?', es: '¿Cómo se siente?', ko: '지금 몸 상태는 어떠세요?' },
  'feeling.well': { en: 'Well', es: 'Bien', ko: '좋아요' },
  'feeling.mild': { en: 'A little unwell', es: 'Un poco mal', ko: '약간 안 좋아요' },
  'feeling.unwell': { en: 'Unwell', es: 'Mal', ko: '안 좋아요' },
  'feeling.very-unwell': { en: 'Very unwell', es: 'Muy mal', ko: '매우 안 좋아요' },
  symptoms: { en: 'Any symptoms since your vaccination? Choose all that apply, or none.', es: '¿Algún síntoma desde que se vacunó? Elija todos los que correspondan, o ninguno.', ko: '접종 후 증상이 있었나요? 해당하는 것을 모두 고르거나, 없으면 고르지 마세요.' },
  words: { en: 'Anything else, in your own words (optional)', es: 'Algo más, con sus propias palabras (opcional)', ko: '그 밖에 하실 말씀(선택)' },
  care: { en: 'Did you need medical care?', es: '¿Necesitó atención médica?', ko: '치료를 받아야 했나요?' },
  'care.none': { en: 'No', es: 'No', ko: '아니요' },
  'care.doctor': { en: 'I saw a doctor or nurse', es: 'Fui al médico o a la enfermera', ko: '의사나 간호사에게 진료받았어요' },
  'care.emergency': { en: 'I went to an emergency room or urgent care', es: 'Fui a urgencias', ko: '응급실이나 긴급 진료소에 갔어요' },
  'care.hospital': { en: 'I stayed in hospital', es: 'Me quedé en el hospital', ko: '입원했어요' },
  send: { en: 'Send', es: 'Enviar', ko: '보내기' },
  required: { en: 'Please answer this question.', es: 'Responda esta pregunta, por favor.', ko: '이 질문에 답해 주세요.' },
  needOther: { en: 'You chose "something else": please describe it.', es: 'Eligió "otra cosa": descríbala, por favor.', ko: '"기타"를 선택하셨습니다. 설명을 적어 주세요.' },
  tooLong: { en: 'Please keep it under 2000 characters.', es: 'Escriba menos de 2000 caracteres, por favor.', ko: '2000자 이내로 적어 주세요.' },
  errors: { en: 'Please check the answers marked below.', es: 'Revise las respuestas marcadas abajo.', ko: '아래 표시된 답변을 확인해 주세요.' },
  thanksTitle: { en: 'Thank you', es: 'Gracias', ko: '감사합니다' },
  thanks: {
    en: 'We have your answers. If you feel worse, call your doctor.',
    es: 'Recibimos sus respuestas. Si se siente peor, llame a su médico.',
    ko: '답변을 받았습니다. 증상이 나빠지면 의사에게 연락하세요.',
  },
  thanksReview: {
    en: 'Clinic staff will look at what you told us and may contact you.',
    es: 'El personal de la clínica revisará lo que nos dijo y puede comunicarse con usted.',
    ko: '의료기관 직원이 알려 주신 내용을 확인하고 연락드릴 수 있습니다.',
  },
  already: { en: 'You have already answered this check-in. Thank you.', es: 'Ya respondió esta consulta. Gracias.', ko: '이 확인 질문에는 이미 답하셨습니다. 감사합니다.' },
  expiredTitle: { en: 'This link cannot be used', es: 'Este enlace no se puede usar', ko: '이 링크는 사용할 수 없습니다' },
  expired: {
    en: 'This check-in link is not valid or has expired. If you feel unwell after a vaccination, call your doctor.',
    es: 'Este enlace de consulta no es válido o caducó. Si se siente mal después de vacunarse, llame a su médico.',
    ko: '이 확인 링크가 올바르지 않거나 만료되었습니다. 접종 후 몸이 안 좋으면 의사에게 연락하세요.',
  },
  stopLink: { en: 'Stop these check-ins', es: 'Dejar de recibir estas consultas', ko: '이 확인 메시지 그만 받기' },
  stopTitle: { en: 'Stop check-ins?', es: '¿Dejar de recibir consultas?', ko: '확인 메시지를 그만 받으시겠습니까?' },
  stopIntro: {
    en: 'You can stop the check-ins still to come after this vaccination, or all check-ins, now and after future vaccinations.',
    es: 'Puede dejar de recibir las consultas que quedan sobre esta vacuna, o todas las consultas, ahora y después de futuras vacunas.',
    ko: '이번 예방접종에 대해 남은 확인 메시지만 그만 받거나, 앞으로의 예방접종을 포함해 모든 확인 메시지를 그만 받을 수 있습니다.',
  },
  stopDose: { en: 'Stop for this vaccination', es: 'Dejar de recibirlas por esta vacuna', ko: '이번 접종에 대해서만 그만 받기' },
  stopAll: { en: 'Stop all check-ins', es: 'Dejar de recibir todas', ko: '모든 확인 메시지 그만 받기' },
  stoppedTitle: { en: 'Check-ins stopped', es: 'Consultas detenidas', ko: '확인 메시지 중단됨' },
  stoppedDose: { en: 'You will get no more check-ins about this vaccination.', es: 'No recibirá más consultas sobre esta vacuna.', ko: '이번 예방접종에 대한 확인 메시지를 더 이상 보내지 않습니다.' },
  stoppedAll: {
    en: 'You will get no more check-ins. You can turn them on again in your vaccination wallet or at the clinic.',
    es: 'No recibirá más consultas. Puede volver a activarlas en su cartera de vacunación o en la clínica.',
    ko: '더 이상 확인 메시지를 보내지 않습니다. 예방접종 지갑이나 의료기관에서 다시 켤 수 있습니다.',
  },
  language: { en: 'Language', es: 'Idioma', ko: '언어' },
} satisfies Record<string, Entry>;

export type FollowupKey = keyof typeof FOLLOWUP_TEXT;

/** Keys missing in a language (none, or a test fails). */
export function missingFollowupText(): string[] {
  return MAIL_LANGUAGES.flatMap((l) => (Object.keys(FOLLOWUP_TEXT) as FollowupKey[]).filter((k) => !(FOLLOWUP_TEXT[k] as Entry)[l]?.trim()).map((k) => `${l}:${k}`));
}

export function followupText(lang: MailLanguage, key: FollowupKey, vars: Record<string, string> = {}): string {
  return (FOLLOWUP_TEXT[key] as Entry)[lang].replace(/\{(\w+)\}/g, (all, k: string) => vars[k] ?? all);
}
