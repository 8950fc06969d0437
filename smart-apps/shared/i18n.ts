/**
 * The one message catalogue of the SMART apps: English, Spanish and Korean. Every string a person reads comes
 * from here (`t('key')`), so a new language is one more column. The language is chosen from `?lang=`, then the
 * person's earlier choice, then the browser's preferences, falling back to English.
 */
import { plurals } from '../../src/notify/icu-plural.js';
import { ADMIN_MESSAGES } from './messages-admin.js';
import { ASSISTANT_MESSAGES } from './messages-assistant.js';
import { CLINIC_MESSAGES } from './messages-clinic.js';
import { ELIGIBILITY_MESSAGES } from './messages-eligibility.js';
import { FRONT_DESK_MESSAGES } from './messages-front-desk.js';
import { SIGNUP_MESSAGES } from './messages-signup.js';
import { REACTION_MESSAGES } from './messages-reaction.js';
import { FOLLOWUP_MESSAGES } from './messages-followup.js';

export const LANGUAGES = { en: 'English', es: 'Español', ko: '한국어' } as const;
export type Language = keyof typeof LANGUAGES;

export type Entry = Record<Language, string>;

const WALLET_MESSAGES = {
  'app.wallet': { en: 'My vaccination wallet', es: 'Mi cartera de vacunación', ko: '내 예방접종 지갑' },
  'app.viewer': { en: 'Health card viewer', es: 'Visor de tarjetas de salud', ko: '건강 카드 뷰어' },
  'app.language': { en: 'Language', es: 'Idioma', ko: '언어' },
  'app.loading': { en: 'Loading…', es: 'Cargando…', ko: '불러오는 중…' },
  'app.error': { en: 'Something went wrong: {message}', es: 'Algo salió mal: {message}', ko: '문제가 발생했습니다: {message}' },
  'app.close': { en: 'Close', es: 'Cerrar', ko: '닫기' },
  'signin.intro': {
    en: 'See your vaccinations and appointments, and share a verifiable health card. You sign in with a one-time code sent to the email on your record.',
    es: 'Vea sus vacunas y citas, y comparta una tarjeta de salud verificable. Inicie sesión con un código de un solo uso enviado al correo de su expediente.',
    ko: '예방접종 기록과 예약을 확인하고 검증 가능한 건강 카드를 공유하세요. 기록에 있는 이메일로 보내드리는 일회용 코드로 로그인합니다.',
  },
  'signin.button': { en: 'Sign in', es: 'Iniciar sesión', ko: '로그인' },
  'signin.out': { en: 'Sign out', es: 'Cerrar sesión', ko: '로그아웃' },
  'signin.failed': { en: 'Sign-in did not complete: {message}', es: 'No se completó el inicio de sesión: {message}', ko: '로그인을 완료하지 못했습니다: {message}' },
  'nav.label': { en: 'Wallet sections', es: 'Secciones de la cartera', ko: '지갑 메뉴' },
  'nav.history': { en: 'Vaccinations', es: 'Vacunas', ko: '예방접종' },
  'nav.card': { en: 'Health card', es: 'Tarjeta de salud', ko: '건강 카드' },
  'nav.links': { en: 'Shared links', es: 'Enlaces compartidos', ko: '공유 링크' },
  'patient.greeting': { en: 'Record of {name}', es: 'Expediente de {name}', ko: '{name}님의 기록' },
  'patient.born': { en: 'Born {date}', es: 'Nacimiento: {date}', ko: '생년월일 {date}' },
  'history.title': { en: 'Vaccination history', es: 'Historial de vacunación', ko: '예방접종 이력' },
  'history.empty': { en: 'No vaccinations on your record yet.', es: 'Aún no hay vacunas en su expediente.', ko: '아직 기록된 예방접종이 없습니다.' },
  'history.product': { en: 'Product', es: 'Producto', ko: '백신' },
  'history.date': { en: 'Date', es: 'Fecha', ko: '날짜' },
  'history.lot': { en: 'Lot', es: 'Lote', ko: '로트 번호' },
  'history.site': { en: 'Site', es: 'Sitio', ko: '접종 부위' },
  'history.performer': { en: 'Given by', es: 'Administrada por', ko: '접종 기관' },
  'history.status': { en: 'Status', es: 'Estado', ko: '상태' },
  'history.unknown': { en: 'not recorded', es: 'sin registrar', ko: '기록 없음' },
  // Body sites of a dose (HL7 v3 ActSite / HL7 table 0163 codes, as registries and the hub record them).
  'site.LA': { en: 'Left arm', es: 'Brazo izquierdo', ko: '왼쪽 팔' },
  'site.RA': { en: 'Right arm', es: 'Brazo derecho', ko: '오른쪽 팔' },
  'site.LD': { en: 'Left deltoid (upper arm)', es: 'Deltoides izquierdo (parte superior del brazo)', ko: '왼쪽 삼각근 (위팔)' },
  'site.RD': { en: 'Right deltoid (upper arm)', es: 'Deltoides derecho (parte superior del brazo)', ko: '오른쪽 삼각근 (위팔)' },
  'site.LUA': { en: 'Left upper arm', es: 'Parte superior del brazo izquierdo', ko: '왼쪽 위팔' },
  'site.RUA': { en: 'Right upper arm', es: 'Parte superior del brazo derecho', ko: '오른쪽 위팔' },
  'site.LT': { en: 'Left thigh', es: 'Muslo izquierdo', ko: '왼쪽 허벅지' },
  'site.RT': { en: 'Right thigh', es: 'Muslo derecho', ko: '오른쪽 허벅지' },
  'site.LVL': { en: 'Left thigh (vastus lateralis)', es: 'Muslo izquierdo (vasto lateral)', ko: '왼쪽 허벅지 (외측광근)' },
  'site.RVL': { en: 'Right thigh (vastus lateralis)', es: 'Muslo derecho (vasto lateral)', ko: '오른쪽 허벅지 (외측광근)' },
  'site.LG': { en: 'Left buttock (gluteus medius)', es: 'Glúteo izquierdo', ko: '왼쪽 둔부 (중둔근)' },
  'site.RG': { en: 'Right buttock (gluteus medius)', es: 'Glúteo derecho', ko: '오른쪽 둔부 (중둔근)' },
  'site.LLFA': { en: 'Left lower forearm', es: 'Antebrazo izquierdo', ko: '왼쪽 아래팔' },
  'site.RLFA': { en: 'Right lower forearm', es: 'Antebrazo derecho', ko: '오른쪽 아래팔' },
  'history.source': { en: 'Source', es: 'Origen', ko: '출처' },
  'history.selfReported': {
    en: 'Reported by you, not yet verified by a clinic: it is not on your health card',
    es: 'Informada por usted y aún no verificada por una clínica: no figura en su tarjeta de salud',
    ko: '본인이 입력한 기록으로 아직 의료기관의 확인을 받지 않아 건강 카드에 포함되지 않습니다',
  },
  'history.selfReportedVerified': { en: 'Reported by you, verified by clinic staff', es: 'Informada por usted y verificada por la clínica', ko: '본인이 입력하고 의료기관이 확인한 기록' },
  'nav.due': { en: "What's due", es: 'Vacunas pendientes', ko: '접종 예정' },
  'due.title': { en: "What's due next", es: 'Próximas vacunas', ko: '다음 접종 일정' },
  'due.dose': { en: 'dose {n}', es: 'la dosis {n}', ko: '{n}차 접종' },
  'due.nextDose': { en: 'the next dose', es: 'la siguiente dosis', ko: '다음 접종' },
  'due.overdue': { en: 'You are late for {dose}: it was due by {date}. Book it as soon as you can.', es: 'Tiene atrasada {dose}: debía recibirla antes del {date}. Reserve lo antes posible.', ko: '{dose}이(가) 늦었습니다. {date}까지 받으셨어야 합니다. 가능한 한 빨리 예약하세요.' },
  'due.dueNow': { en: 'You are due for {dose} now (since {date}).', es: 'Ya le corresponde {dose} (desde el {date}).', ko: '지금 {dose}을(를) 받으실 때입니다({date}부터).' },
  'due.canNow': { en: 'You can have {dose} now; it is due on {date}.', es: 'Puede recibir {dose} ya; le corresponde el {date}.', ko: '지금 {dose}을(를) 받을 수 있으며, 권장일은 {date}입니다.' },
  'due.canNowNoDate': { en: 'You can have {dose} now.', es: 'Puede recibir {dose} ya.', ko: '지금 {dose}을(를) 받을 수 있습니다.' },
  'due.from': { en: 'You can have {dose} from {date}; it is due on {due}.', es: 'Podrá recibir {dose} a partir del {date}; le corresponde el {due}.', ko: '{date}부터 {dose}을(를) 받을 수 있으며, 권장일은 {due}입니다.' },
  'due.dueOn': { en: '{dose} is due on {date}.', es: '{dose}: le corresponde el {date}.', ko: '{dose} 권장일은 {date}입니다.' },
  'due.nothing': { en: 'Nothing is due for you right now.', es: 'Por ahora no le corresponde ninguna vacuna.', ko: '지금 받으실 예방접종이 없습니다.' },
  'due.done': { en: 'Done: {list}.', es: 'Completadas: {list}.', ko: '완료: {list}.' },
  'due.hint': {
    en: 'Worked out from the vaccinations on your record by the national schedule. Doses you reported yourself count once a clinic has verified them.',
    es: 'Calculado a partir de las vacunas de su expediente según el calendario nacional. Las dosis que usted informó cuentan cuando una clínica las verifica.',
    ko: '기록된 예방접종을 국가 예방접종 일정에 따라 계산했습니다. 본인이 입력한 접종은 의료기관이 확인한 후에 반영됩니다.',
  },
  'due.unavailable': { en: 'Your next doses could not be worked out just now. Try again later.', es: 'No se pudieron calcular sus próximas dosis en este momento. Inténtelo más tarde.', ko: '지금은 다음 접종 일정을 계산할 수 없습니다. 나중에 다시 시도하세요.' },
  'appointments.title': { en: 'Upcoming appointments', es: 'Próximas citas', ko: '예정된 예약' },
  'appointments.empty': { en: 'No upcoming appointments.', es: 'No tiene citas próximas.', ko: '예정된 예약이 없습니다.' },
  'appointments.when': { en: 'When', es: 'Cuándo', ko: '일시' },
  'appointments.where': { en: 'Where', es: 'Dónde', ko: '장소' },
  'appointments.status': { en: 'Status', es: 'Estado', ko: '상태' },
  'appointments.vaccination': { en: 'Vaccination', es: 'Vacunación', ko: '예방접종' },
  // FHIR Appointment.status, as a person reads it.
  'apptStatus.booked': { en: 'Booked', es: 'Reservada', ko: '예약됨' },
  'apptStatus.pending': { en: 'Waiting for confirmation', es: 'Pendiente de confirmación', ko: '확인 대기 중' },
  'apptStatus.proposed': { en: 'Proposed', es: 'Propuesta', ko: '제안됨' },
  'apptStatus.arrived': { en: 'Checked in', es: 'Registrada en la clínica', ko: '도착 확인됨' },
  'apptStatus.checked-in': { en: 'Checked in', es: 'Registrada en la clínica', ko: '도착 확인됨' },
  'apptStatus.waitlist': { en: 'On the waiting list', es: 'En lista de espera', ko: '대기자 명단' },
  'card.title': { en: 'SMART Health Card', es: 'Tarjeta SMART Health Card', ko: 'SMART 건강 카드' },
  'card.intro': {
    en: 'A signed copy of your vaccination record that anyone can verify offline. Download the file or show the QR code.',
    es: 'Una copia firmada de su historial de vacunación que cualquiera puede verificar sin conexión. Descargue el archivo o muestre el código QR.',
    ko: '누구나 오프라인으로 검증할 수 있는 서명된 예방접종 기록입니다. 파일을 내려받거나 QR 코드를 보여 주세요.',
  },
  'card.download': { en: 'Download card file', es: 'Descargar archivo de la tarjeta', ko: '카드 파일 내려받기' },
  'card.showQr': { en: 'Show QR code', es: 'Mostrar código QR', ko: 'QR 코드 보기' },
  'card.qrAlt': { en: 'QR code of your SMART Health Card', es: 'Código QR de su SMART Health Card', ko: 'SMART 건강 카드 QR 코드' },
  'card.qrTitle': { en: 'Your health card', es: 'Su tarjeta de salud', ko: '내 건강 카드' },
  'card.tooLarge': {
    en: 'Your record is too large for one QR code. Create a shared link instead.',
    es: 'Su expediente es demasiado grande para un solo código QR. Cree un enlace compartido.',
    ko: '기록이 커서 QR 코드 하나에 담을 수 없습니다. 대신 공유 링크를 만드세요.',
  },
  'card.none': { en: 'There is nothing to put on a card yet.', es: 'Todavía no hay nada para incluir en una tarjeta.', ko: '아직 카드에 담을 기록이 없습니다.' },
  'card.downloaded': { en: 'Card file downloaded.', es: 'Archivo de la tarjeta descargado.', ko: '카드 파일을 내려받았습니다.' },
  'links.title': { en: 'SMART Health Links', es: 'Enlaces SMART Health Links', ko: 'SMART 건강 링크' },
  'links.intro': {
    en: 'Share your card with a link. Add a passcode and an end date, see who opened it, and turn it off at any time.',
    es: 'Comparta su tarjeta con un enlace. Añada un código de acceso y una fecha de fin, vea quién lo abrió y desactívelo cuando quiera.',
    ko: '링크로 카드를 공유하세요. 암호와 만료일을 정하고, 누가 열었는지 확인하고, 언제든지 해제할 수 있습니다.',
  },
  'links.label': { en: 'Name for this link (optional)', es: 'Nombre del enlace (opcional)', ko: '링크 이름 (선택)' },
  'links.passcode': { en: 'Passcode (optional)', es: 'Código de acceso (opcional)', ko: '암호 (선택)' },
  'links.passcodeHint': { en: 'Tell the passcode to the person separately.', es: 'Comunique el código por separado.', ko: '암호는 따로 알려 주세요.' },
  'links.expires': { en: 'Stops working on (optional)', es: 'Deja de funcionar el (opcional)', ko: '만료일 (선택)' },
  'links.create': { en: 'Create link', es: 'Crear enlace', ko: '링크 만들기' },
  'links.created': { en: 'Link created. Copy it or open it in the viewer:', es: 'Enlace creado. Cópielo o ábralo en el visor:', ko: '링크가 만들어졌습니다. 복사하거나 뷰어에서 여세요:' },
  'links.open': { en: 'Open in viewer', es: 'Abrir en el visor', ko: '뷰어에서 열기' },
  'links.copy': { en: 'Copy link', es: 'Copiar enlace', ko: '링크 복사' },
  'links.copied': { en: 'Copied.', es: 'Copiado.', ko: '복사했습니다.' },
  'links.yours': { en: 'Your links', es: 'Sus enlaces', ko: '내 링크' },
  'links.none': { en: 'You have not shared any links.', es: 'No ha compartido ningún enlace.', ko: '공유한 링크가 없습니다.' },
  'links.untitled': { en: 'Link created {date}', es: 'Enlace creado el {date}', ko: '{date}에 만든 링크' },
  'links.active': { en: 'Active', es: 'Activo', ko: '사용 중' },
  'links.revoked': { en: 'Turned off', es: 'Desactivado', ko: '해제됨' },
  'links.expired': { en: 'Expired', es: 'Vencido', ko: '만료됨' },
  'links.expiresOn': { en: 'Until {date}', es: 'Hasta el {date}', ko: '{date}까지' },
  'links.noExpiry': { en: 'No end date', es: 'Sin fecha de fin', ko: '만료일 없음' },
  'links.withPasscode': { en: 'Passcode required', es: 'Requiere código', ko: '암호 필요' },
  'links.revoke': { en: 'Turn off link', es: 'Desactivar enlace', ko: '링크 해제' },
  'links.qr': { en: 'Show link QR code', es: 'Mostrar QR del enlace', ko: '링크 QR 코드 보기' },
  'links.qrAlt': { en: 'QR code of the shared link', es: 'Código QR del enlace compartido', ko: '공유 링크 QR 코드' },
  'links.log': { en: 'Who opened it', es: 'Quién lo abrió', ko: '열람 기록' },
  'links.logEmpty': { en: 'Nobody has opened this link yet.', es: 'Nadie ha abierto este enlace todavía.', ko: '아직 아무도 이 링크를 열지 않았습니다.' },
  'links.recipient': { en: 'Recipient', es: 'Destinatario', ko: '수신자' },
  'links.outcome': { en: 'Result', es: 'Resultado', ko: '결과' },
  'links.at': { en: 'When', es: 'Cuándo', ko: '일시' },
  'outcome.manifest': { en: 'Opened', es: 'Abierto', ko: '열람함' },
  'outcome.wrong-passcode': { en: 'Wrong passcode', es: 'Código incorrecto', ko: '잘못된 암호' },
  'outcome.refused': { en: 'Refused', es: 'Rechazado', ko: '거부됨' },
  'outcome.file': { en: 'File read', es: 'Archivo leído', ko: '파일 열람' },
  'viewer.intro': {
    en: 'Someone shared a vaccination record with you. The record is decrypted in this browser and its signature is checked.',
    es: 'Alguien compartió con usted un historial de vacunación. Se descifra en este navegador y se comprueba su firma.',
    ko: '누군가 예방접종 기록을 공유했습니다. 기록은 이 브라우저에서 복호화되고 서명이 검증됩니다.',
  },
  'viewer.noLink': {
    en: 'This page opens SMART Health Links. The address must contain #shlink:/…',
    es: 'Esta página abre SMART Health Links. La dirección debe contener #shlink:/…',
    ko: '이 페이지는 SMART 건강 링크를 엽니다. 주소에 #shlink:/… 가 있어야 합니다.',
  },
  'viewer.badLink': { en: 'This link cannot be read: {message}', es: 'No se puede leer este enlace: {message}', ko: '이 링크를 읽을 수 없습니다: {message}' },
  'viewer.sharedLabel': { en: 'Shared: {label}', es: 'Compartido: {label}', ko: '공유됨: {label}' },
  'viewer.recipient': { en: 'Your name or organization', es: 'Su nombre u organización', ko: '이름 또는 기관' },
  'viewer.passcode': { en: 'Passcode', es: 'Código de acceso', ko: '암호' },
  'viewer.open': { en: 'Open record', es: 'Abrir expediente', ko: '기록 열기' },
  'viewer.wrongPasscode': {
    en: 'Wrong passcode. {remaining, plural, one {# attempt} other {# attempts}} left.',
    es: 'Código incorrecto. {remaining, plural, one {Queda # intento} other {Quedan # intentos}}.',
    ko: '암호가 틀렸습니다. {remaining}번 더 시도할 수 있습니다.',
  },
  'viewer.gone': {
    en: 'This link has expired or was turned off.',
    es: 'Este enlace venció o fue desactivado.',
    ko: '이 링크는 만료되었거나 해제되었습니다.',
  },
  'viewer.expiredAt': { en: 'This link expired on {date}.', es: 'Este enlace venció el {date}.', ko: '이 링크는 {date}에 만료되었습니다.' },
  'viewer.verified': { en: 'Verified: signed by {issuer}', es: 'Verificada: firmada por {issuer}', ko: '검증됨: {issuer} 서명' },
  'viewer.notVerified': { en: 'Not verified: {reason}', es: 'No verificada: {reason}', ko: '검증 실패: {reason}' },
  'viewer.unsigned': {
    en: 'Live record from {issuer} (not a signed card).',
    es: 'Expediente en vivo de {issuer} (no es una tarjeta firmada).',
    ko: '{issuer}의 실시간 기록 (서명된 카드 아님).',
  },
  'viewer.issued': { en: 'Issued {date}', es: 'Emitida el {date}', ko: '{date} 발급' },
  'viewer.revoked': { en: 'This card was revoked by its issuer.', es: 'El emisor revocó esta tarjeta.', ko: '발급 기관이 이 카드를 취소했습니다.' },
  'viewer.untrustedIssuer': {
    en: 'Not verified: unknown issuer. This card says it was signed by {issuer}, which is not on this hub’s list of trusted issuers. Anyone can make such a card: do not rely on it.',
    es: 'No verificada: emisor desconocido. Esta tarjeta dice estar firmada por {issuer}, que no está en la lista de emisores de confianza de este hub. Cualquiera puede hacer una tarjeta así: no confíe en ella.',
    ko: '검증 실패: 알 수 없는 발급 기관. 이 카드는 {issuer}이(가) 서명했다고 하지만, 이 허브의 신뢰하는 발급 기관 목록에 없습니다. 누구나 이런 카드를 만들 수 있으니 믿지 마십시오.',
  },
  'viewer.revocationUnknown': {
    en: 'Not verified: the signature of {issuer} is genuine, but its list of revoked cards could not be read, so this card may have been revoked. Try again later.',
    es: 'No verificada: la firma de {issuer} es auténtica, pero no se pudo leer su lista de tarjetas revocadas, así que esta tarjeta puede estar revocada. Inténtelo más tarde.',
    ko: '검증 실패: {issuer}의 서명은 진짜이지만 취소된 카드 목록을 읽을 수 없어 이 카드가 취소되었을 수 있습니다. 나중에 다시 시도하십시오.',
  },
  'viewer.trustUnavailable': {
    en: 'this hub’s list of trusted issuers could not be read ({message})',
    es: 'no se pudo leer la lista de emisores de confianza de este hub ({message})',
    ko: '이 허브의 신뢰하는 발급 기관 목록을 읽을 수 없습니다 ({message})',
  },
} satisfies Record<string, Entry>;

/** The one catalogue: the wallet's strings above, sign-up/booking, eligibility names and the admin console. */
const MESSAGES = { ...WALLET_MESSAGES, ...REACTION_MESSAGES, ...FOLLOWUP_MESSAGES, ...SIGNUP_MESSAGES, ...ELIGIBILITY_MESSAGES, ...ASSISTANT_MESSAGES, ...ADMIN_MESSAGES, ...CLINIC_MESSAGES, ...FRONT_DESK_MESSAGES };

export type MessageKey = keyof typeof MESSAGES;

const STORAGE_KEY = 'vaxhub.lang';
let current: Language = 'en';

function isLanguage(x: string | null | undefined): x is Language {
  return !!x && Object.hasOwn(LANGUAGES, x);
}

/** Picks the language once at start (query, saved choice, browser preference). */
export function detectLanguage(): Language {
  const fromQuery = new URLSearchParams(location.search).get('lang');
  let saved: string | null = null;
  try {
    saved = localStorage.getItem(STORAGE_KEY);
  } catch {
    // storage can be disabled (private mode); the browser preference still applies
  }
  const preferred = (navigator.languages ?? [navigator.language]).map((l) => l.slice(0, 2).toLowerCase()).find(isLanguage);
  current = [fromQuery, saved, preferred].find(isLanguage) ?? 'en';
  document.documentElement.lang = current;
  shareWithSignInPages(current);
  return current;
}

/**
 * The hub's sign-in and consent pages are server pages on the same origin: a cookie tells them the language the
 * person uses here, so signing in from a Spanish page continues in Spanish (fhirclient cannot pass `ui_locales`).
 */
function shareWithSignInPages(lang: Language): void {
  if (typeof document === 'undefined') return;
  document.cookie = `vaxhub_lang=${lang}; path=/; max-age=31536000; SameSite=Lax${location.protocol === 'https:' ? '; Secure' : ''}`;
}

export function setLanguage(lang: Language): void {
  current = lang;
  if (typeof document !== 'undefined') document.documentElement.lang = lang; // absent in the unit tests
  shareWithSignInPages(lang);
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not persisted; still applied to this page
  }
}

export function language(): Language {
  return current;
}

/** The message in the current language, with plural forms chosen and `{name}` placeholders filled. */
export function t(key: MessageKey, vars: Record<string, string | number> = {}): string {
  const entry: Entry = MESSAGES[key];
  const lang: Language = entry[current] ? current : 'en';
  return plurals(entry[lang], lang, vars).replace(/\{(\w+)\}/g, (m, name: string) => (name in vars ? String(vars[name]) : m));
}

/**
 * The Intl locale for the page's language: the browser's own tag when it is in that language (es-US writes
 * "9:00 a. m.", es-ES "9:00"), else the language itself.
 */
export function locale(): string {
  const tags = typeof navigator === 'undefined' ? [] : (navigator.languages ?? [navigator.language]);
  return tags.find((tag) => tag.slice(0, 2).toLowerCase() === current && /^[a-z]{2}-[A-Z]{2}$/i.test(tag)) ?? current;
}

/** The browser's own time zone (to tell when another zone must be named). */
function browserZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * Dates in the person's language and locale format; FHIR dates without a time are shown without one (and without
 * a time zone shift). With a `timeZone` (a clinic's, issue 22: "every page gives times in the clinic's time zone")
 * a time is written in that zone, and the zone is named when it is not the browser's own.
 */
export function formatDate(value: string | undefined, withTime = false, timeZone?: string): string {
  if (!value) return '';
  const dateOnly = /^\d{4}(-\d{2}(-\d{2})?)?$/.test(value);
  const d = new Date(dateOnly ? `${value.padEnd(10, '-01').slice(0, 10)}T12:00:00Z` : value);
  if (Number.isNaN(d.getTime())) return value;
  const zone = dateOnly ? 'UTC' : safeZone(timeZone);
  const named = !dateOnly && !!zone && zone !== browserZone();
  return new Intl.DateTimeFormat(locale(), withTime && !dateOnly
    ? { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', ...(zone ? { timeZone: zone } : {}), ...(named ? { timeZoneName: 'short' } : {}) }
    : { dateStyle: 'medium', ...(zone ? { timeZone: zone } : {}) }).format(d);
}

/** A time of day ("9:00 a. m."), in `timeZone` when given (named when not the browser's). */
export function formatTime(value: string, timeZone?: string): string {
  const zone = safeZone(timeZone);
  const named = !!zone && zone !== browserZone();
  return new Intl.DateTimeFormat(locale(), { hour: 'numeric', minute: '2-digit', ...(zone ? { timeZone: zone } : {}), ...(named ? { timeZoneName: 'short' } : {}) }).format(new Date(value));
}

/** The calendar day of an instant in `timeZone` (YYYY-MM-DD): a 9 PM slot in Chicago is on that day, not UTC's next. */
export function dayIn(value: string, timeZone?: string): string {
  const zone = safeZone(timeZone) ?? browserZone();
  return new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit', timeZone: zone }).format(new Date(value));
}

function safeZone(zone: string | undefined): string | undefined {
  if (!zone) return undefined;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone;
  } catch {
    return undefined;
  }
}

/** The whole catalogue (the browser tests look for English strings on pages that should be in another language). */
export function catalogue(): Record<string, Entry> {
  return MESSAGES as Record<string, Entry>;
}

/** Every catalogue key has all three languages (used by the unit test). */
export function missingTranslations(): string[] {
  return Object.entries(MESSAGES as Record<string, Entry>).flatMap(([k, e]) =>
    (Object.keys(LANGUAGES) as Language[]).filter((l) => !e[l]?.trim()).map((l) => `${k}:${l}`),
  );
}

/** True for catalogue keys built at run time (e.g. `err.${code}`, `occ.${code}`). */
export function isMessageKey(key: string): key is MessageKey {
  return Object.hasOwn(MESSAGES, key);
}

/** The message for a run-time key, else the fallback text (e.g. a rule file's own display). */
export function tOr(key: string, fallback: string, vars: Record<string, string | number> = {}): string {
  return isMessageKey(key) ? t(key, vars) : fallback;
}
