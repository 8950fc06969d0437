/**
 * Follow-up check-ins after each vaccination (issue 24) in the one catalogue (merged into i18n.ts): the wallet's
 * choice, and the console's list of check-ins in the safety section.
 */
import type { Entry } from './i18n.js';

export const FOLLOWUP_MESSAGES = {
  'followup.title': { en: 'Check-ins after a vaccination', es: 'Consultas después de vacunarse', ko: '접종 후 안부 확인' },
  'followup.intro': {
    en: 'We can ask how you are the day after each vaccination, a week after and six weeks after: three short questions by email (or text message), no sign-in needed. Your answers help the clinic watch for side effects.',
    es: 'Podemos preguntarle cómo está el día después de cada vacuna, una semana después y seis semanas después: tres preguntas breves por correo (o mensaje de texto), sin iniciar sesión. Sus respuestas ayudan a la clínica a vigilar los efectos secundarios.',
    ko: '예방접종 다음 날, 1주 후, 6주 후에 안부를 여쭤볼 수 있습니다. 이메일(또는 문자 메시지)로 짧은 질문 세 가지를 보내 드리며 로그인은 필요 없습니다. 답변은 의료기관이 부작용을 살피는 데 도움이 됩니다.',
  },
  'followup.choice': { en: 'Send me check-ins after each vaccination', es: 'Enviarme consultas después de cada vacuna', ko: '접종할 때마다 안부 확인 받기' },
  'followup.on': { en: 'Check-ins are on. Every message has a link to stop them.', es: 'Las consultas están activadas. Cada mensaje tiene un enlace para detenerlas.', ko: '안부 확인이 켜져 있습니다. 모든 메시지에 중단 링크가 있습니다.' },
  'followup.off': { en: 'Check-ins are off.', es: 'Las consultas están desactivadas.', ko: '안부 확인이 꺼져 있습니다.' },
  'followup.failed': { en: 'Your choice was not saved: {message}', es: 'No se guardó su elección: {message}', ko: '선택이 저장되지 않았습니다: {message}' },
  'followup.staffTitle': { en: 'Follow-up check-ins', es: 'Consultas de seguimiento', ko: '접종 후 안부 확인' },
  'followup.staffIntro': {
    en: 'Check-ins people chose after their doses, latest first: when each is due, whether it was sent, answered, or stopped. A worrying answer is among the reports to review above.',
    es: 'Consultas que las personas eligieron después de sus dosis, las más recientes primero: cuándo toca cada una y si se envió, se respondió o se detuvo. Una respuesta preocupante aparece arriba entre los informes por revisar.',
    ko: '사람들이 접종 후 받기로 한 안부 확인(최신순): 예정 시각, 발송·응답·중단 여부. 우려되는 답변은 위의 검토 대기 보고에 있습니다.',
  },
  'followup.due': { en: 'Due', es: 'Fecha', ko: '예정' },
  'followup.person': { en: 'Person and dose', es: 'Persona y dosis', ko: '대상자와 접종' },
  'followup.step': { en: 'Step', es: 'Paso', ko: '단계' },
  'followup.state': { en: 'State', es: 'Estado', ko: '상태' },
  'followup.answer': { en: 'Answer', es: 'Respuesta', ko: '응답' },
  'followup.state.scheduled': { en: 'scheduled', es: 'programada', ko: '예정됨' },
  'followup.state.queued': { en: 'queued to send', es: 'en cola para enviar', ko: '발송 대기' },
  'followup.state.sent': { en: 'sent', es: 'enviada', ko: '발송됨' },
  'followup.state.stopped': { en: 'stopped', es: 'detenida', ko: '중단됨' },
  'followup.state.unreachable': { en: 'no email or phone', es: 'sin correo ni teléfono', ko: '이메일·전화 없음' },
  'followup.state.failed': { en: 'could not be sent', es: 'no se pudo enviar', ko: '발송 실패' },
  'followup.answered': { en: 'answered {time}', es: 'respondida {time}', ko: '{time} 응답' },
  'followup.draft': { en: 'worrying: AdverseEvent/{id}', es: 'preocupante: AdverseEvent/{id}', ko: '우려: AdverseEvent/{id}' },
  'followup.stop': { en: 'Stop the rest', es: 'Detener las demás', ko: '나머지 중단' },
} satisfies Record<string, Entry>;
