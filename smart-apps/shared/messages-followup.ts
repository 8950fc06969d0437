/** The wallet's choice of follow-up check-ins after each vaccination (issue 24), in the one catalogue (merged into i18n.ts). */
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
} satisfies Record<string, Entry>;
