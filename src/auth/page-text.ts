/**
 * The words of the hub's sign-in and consent pages in every language the public pages are written in (issue 22:
 * they were English only while the apps around them spoke Spanish and Korean). One entry per sentence; a test
 * fails when a language is missing. Which language a page speaks: see `pageLanguage`.
 */
import { MAIL_LANGUAGES, mailLanguage, type MailLanguage } from '../notify/mail-locale.js';

export type PageLanguage = MailLanguage;
export const PAGE_LANGUAGES = MAIL_LANGUAGES;
export const LANGUAGE_NAMES: Record<PageLanguage, string> = { en: 'English', es: 'Español', ko: '한국어' };

type Entry = Record<PageLanguage, string>;

export const PAGE_TEXT = {
  suffix: { en: 'vaxhub', es: 'vaxhub', ko: 'vaxhub' },
  language: { en: 'Language', es: 'Idioma', ko: '언어' },
  signInTitle: { en: 'Sign in', es: 'Iniciar sesión', ko: '로그인' },
  signInIntro: {
    en: '{client} wants to access your immunization record. Enter the email address or phone number on your record; we will send you a one-time code.',
    es: '{client} quiere acceder a su historial de vacunación. Escriba el correo electrónico o el número de teléfono de su expediente; le enviaremos un código de un solo uso.',
    ko: '{client}이(가) 예방접종 기록에 접근하려고 합니다. 기록에 등록된 이메일 주소나 전화번호를 입력하시면 일회용 코드를 보내드립니다.',
  },
  emailOrPhone: { en: 'Email address or phone number', es: 'Correo electrónico o número de teléfono', ko: '이메일 주소 또는 전화번호' },
  sendCode: { en: 'Send code', es: 'Enviar código', ko: '코드 받기' },
  staffTitle: { en: 'Staff sign-in', es: 'Acceso del personal', ko: '직원 로그인' },
  staffIntro: {
    en: '{client} asks you to sign in as a member of this hub\'s staff. Enter your staff email address; we will send you a one-time code.',
    es: '{client} le pide iniciar sesión como miembro del personal de este centro. Escriba su correo de personal; le enviaremos un código de un solo uso.',
    ko: '{client}에서 이 허브의 직원으로 로그인하도록 요청합니다. 직원 이메일 주소를 입력하시면 일회용 코드를 보내드립니다.',
  },
  staffEmail: { en: 'Staff email address', es: 'Correo electrónico del personal', ko: '직원 이메일 주소' },
  codeTitle: { en: 'Enter your code', es: 'Escriba su código', ko: '코드 입력' },
  codeSentPhone: {
    en: 'If this phone number is on a patient record, a 6-digit code is on its way by text message. It is valid for 10 minutes.',
    es: 'Si este número de teléfono figura en un expediente, le llegará un código de 6 dígitos por mensaje de texto. Es válido durante 10 minutos.',
    ko: '이 전화번호가 환자 기록에 있으면 6자리 코드가 문자 메시지로 전송됩니다. 코드는 10분 동안 유효합니다.',
  },
  codeSentStaff: {
    en: 'If this email address belongs to an active staff account, a 6-digit code is on its way. It is valid for 10 minutes.',
    es: 'Si este correo pertenece a una cuenta de personal activa, le llegará un código de 6 dígitos. Es válido durante 10 minutos.',
    ko: '이 이메일 주소가 활성 직원 계정이면 6자리 코드가 전송됩니다. 코드는 10분 동안 유효합니다.',
  },
  codeSentEmail: {
    en: 'If this email address is on a patient record, a 6-digit code is on its way. It is valid for 10 minutes.',
    es: 'Si este correo figura en un expediente, le llegará un código de 6 dígitos. Es válido durante 10 minutos.',
    ko: '이 이메일 주소가 환자 기록에 있으면 6자리 코드가 전송됩니다. 코드는 10분 동안 유효합니다.',
  },
  oneTimeCode: { en: 'One-time code', es: 'Código de un solo uso', ko: '일회용 코드' },
  signIn: { en: 'Sign in', es: 'Iniciar sesión', ko: '로그인' },
  consentTitle: { en: 'Allow access?', es: '¿Permitir el acceso?', ko: '접근을 허용하시겠습니까?' },
  consentAsks: { en: '{client} asks for permission to:', es: '{client} pide permiso para:', ko: '{client}이(가) 다음 권한을 요청합니다:' },
  technical: { en: 'Technical details (the permissions as the app asked for them)', es: 'Detalles técnicos (los permisos tal como los pidió la app)', ko: '기술 정보 (앱이 요청한 권한 원문)' },
  allow: { en: 'Allow', es: 'Permitir', ko: '허용' },
  deny: { en: 'Deny', es: 'Denegar', ko: '거부' },
  errorTitle: { en: 'Cannot continue', es: 'No se puede continuar', ko: '계속할 수 없습니다' },
  errorNext: { en: 'Return to the application and start again.', es: 'Vuelva a la aplicación y empiece de nuevo.', ko: '앱으로 돌아가 처음부터 다시 시작해 주세요.' },
  expired: { en: 'This sign-in request has expired or belongs to another browser.', es: 'Esta solicitud de inicio de sesión caducó o pertenece a otro navegador.', ko: '이 로그인 요청이 만료되었거나 다른 브라우저의 요청입니다.' },
  invalidEmail: { en: 'Please enter a valid email address.', es: 'Escriba un correo electrónico válido.', ko: '올바른 이메일 주소를 입력해 주세요.' },
  invalidPhone: {
    en: 'Please enter a valid phone number: digits, optionally starting with + and the country code.',
    es: 'Escriba un número de teléfono válido: dígitos, opcionalmente con + y el código del país al principio.',
    ko: '올바른 전화번호를 입력해 주세요: 숫자만, 필요하면 + 와 국가 번호로 시작합니다.',
  },
  phoneUnavailable: {
    en: 'Sign-in by phone number is not available on this hub. Please enter the email address on your record.',
    es: 'En este centro no se puede iniciar sesión con el número de teléfono. Escriba el correo de su expediente.',
    ko: '이 허브에서는 전화번호로 로그인할 수 없습니다. 기록에 있는 이메일 주소를 입력해 주세요.',
  },
  wrongCode: { en: 'That code is not right. Please try again.', es: 'Ese código no es correcto. Inténtelo de nuevo.', ko: '코드가 올바르지 않습니다. 다시 입력해 주세요.' },
  codeSpent: { en: 'Too many tries or the code expired. Start again from the app.', es: 'Demasiados intentos o el código caducó. Empiece de nuevo desde la app.', ko: '시도 횟수를 초과했거나 코드가 만료되었습니다. 앱에서 다시 시작해 주세요.' },
  roleRefused: {
    en: 'Your staff role ({role}) does not allow {scopes}. Ask an operator to change your role.',
    es: 'Su función de personal ({role}) no permite {scopes}. Pida a un operador que cambie su función.',
    ko: '직원 역할({role})로는 {scopes} 권한을 받을 수 없습니다. 운영자에게 역할 변경을 요청하세요.',
  },
  // --- what a permission lets the app do: verbs, then the records, composed per language ---
  see: { en: 'see', es: 'ver', ko: '보기' },
  add: { en: 'add to', es: 'añadir a', ko: '추가' },
  change: { en: 'change', es: 'cambiar', ko: '변경' },
  delete: { en: 'delete', es: 'borrar', ko: '삭제' },
  use: { en: 'use', es: 'usar', ko: '사용' },
  and: { en: 'and', es: 'y', ko: '및' },
  /** {verbs} {what}: English and Spanish put the verb first, Korean last. */
  grant: { en: '{verbs} {what}', es: '{verbs} {what}', ko: '{what} {verbs}' },
  onlyWhere: { en: '(only where {limits})', es: '(solo si {limits})', ko: '({limits}인 경우만)' },
  userRecords: { en: '{what} you are allowed to see', es: '{what} que usted puede ver', ko: '볼 수 있도록 허용된 {what}' },
  systemRecords: { en: '{what}, for everyone in the system', es: '{what}, de todas las personas del sistema', ko: '시스템 전체의 {what}' },
  ownOther: { en: 'your {type} records', es: 'sus registros {type}', ko: '내 {type} 기록' },
  anyOther: { en: '{type} records', es: 'registros {type}', ko: '{type} 기록' },
  'own.Patient': { en: 'your personal details (name, date of birth, contact details)', es: 'sus datos personales (nombre, fecha de nacimiento, datos de contacto)', ko: '내 개인 정보 (이름, 생년월일, 연락처)' },
  'any.Patient': { en: 'people\'s personal details (name, date of birth, contact details)', es: 'los datos personales de las personas (nombre, fecha de nacimiento, datos de contacto)', ko: '사람들의 개인 정보 (이름, 생년월일, 연락처)' },
  'own.Immunization': { en: 'your vaccinations', es: 'sus vacunas', ko: '내 예방접종 기록' },
  'any.Immunization': { en: 'vaccination records', es: 'los registros de vacunación', ko: '예방접종 기록' },
  'own.ImmunizationRecommendation': { en: 'the vaccinations recommended for you', es: 'las vacunas recomendadas para usted', ko: '나에게 권장되는 예방접종' },
  'any.ImmunizationRecommendation': { en: 'vaccination recommendations', es: 'las recomendaciones de vacunación', ko: '예방접종 권장 사항' },
  'own.ImmunizationEvaluation': { en: 'checks of your vaccinations against the schedule', es: 'las revisiones de sus vacunas según el calendario', ko: '일정에 따른 내 예방접종 점검 결과' },
  'any.ImmunizationEvaluation': { en: 'vaccination schedule checks', es: 'las revisiones del calendario de vacunación', ko: '예방접종 일정 점검 결과' },
  'own.Appointment': { en: 'your appointments', es: 'sus citas', ko: '내 예약' },
  'any.Appointment': { en: 'appointments', es: 'las citas', ko: '예약' },
  'own.Slot': { en: 'free appointment times', es: 'los horarios libres para citas', ko: '예약 가능한 시간' },
  'any.Slot': { en: 'free appointment times', es: 'los horarios libres para citas', ko: '예약 가능한 시간' },
  'own.Schedule': { en: 'clinic schedules', es: 'los horarios de las clínicas', ko: '접종 기관 일정' },
  'any.Schedule': { en: 'clinic schedules', es: 'los horarios de las clínicas', ko: '접종 기관 일정' },
  'own.Location': { en: 'clinic names and addresses', es: 'los nombres y direcciones de las clínicas', ko: '접종 기관 이름과 주소' },
  'any.Location': { en: 'clinic names and addresses', es: 'los nombres y direcciones de las clínicas', ko: '접종 기관 이름과 주소' },
  'own.Organization': { en: 'organisations such as clinics and providers', es: 'organizaciones como clínicas y proveedores', ko: '접종 기관, 의료 제공자 등의 기관 정보' },
  'any.Organization': { en: 'organisations such as clinics and providers', es: 'organizaciones como clínicas y proveedores', ko: '접종 기관, 의료 제공자 등의 기관 정보' },
  'own.Practitioner': { en: 'your staff member details', es: 'sus datos de miembro del personal', ko: '내 직원 정보' },
  'any.Practitioner': { en: 'staff member details', es: 'los datos del personal', ko: '직원 정보' },
  'own.PractitionerRole': { en: 'staff roles', es: 'las funciones del personal', ko: '직원 역할' },
  'any.PractitionerRole': { en: 'staff roles', es: 'las funciones del personal', ko: '직원 역할' },
  'own.RelatedPerson': { en: 'people linked to your record (family, carers)', es: 'las personas vinculadas a su expediente (familia, cuidadores)', ko: '내 기록에 연결된 사람 (가족, 보호자)' },
  'any.RelatedPerson': { en: 'family members and carers', es: 'familiares y cuidadores', ko: '가족 및 보호자' },
  'own.Consent': { en: 'your consents', es: 'sus consentimientos', ko: '내 동의 내역' },
  'any.Consent': { en: 'consents', es: 'los consentimientos', ko: '동의 내역' },
  'own.DocumentReference': { en: 'your documents, such as health cards', es: 'sus documentos, como las tarjetas de salud', ko: '건강 카드 등 내 문서' },
  'any.DocumentReference': { en: 'documents, such as health cards', es: 'documentos, como las tarjetas de salud', ko: '건강 카드 등 문서' },
  'own.AdverseEvent': { en: 'reactions you had after a vaccination', es: 'las reacciones que tuvo después de una vacuna', ko: '예방접종 후 나의 이상 반응' },
  'any.AdverseEvent': { en: 'reports of reactions after vaccination', es: 'los informes de reacciones después de la vacunación', ko: '예방접종 후 이상 반응 보고' },
  'own.AllergyIntolerance': { en: 'your allergies', es: 'sus alergias', ko: '나의 알레르기' },
  'any.AllergyIntolerance': { en: 'allergy records', es: 'los registros de alergias', ko: '알레르기 기록' },
  'own.Flag': { en: 'notes that flag your record for clinic staff', es: 'las notas que señalan su expediente al personal de la clínica', ko: '의료기관 직원을 위한 내 기록의 표시' },
  'any.Flag': { en: 'record flags', es: 'las señales en los expedientes', ko: '기록 표시' },
  'own.Observation': { en: 'your test results', es: 'los resultados de sus pruebas', ko: '나의 검사 결과' },
  'any.Observation': { en: 'test results', es: 'los resultados de pruebas', ko: '검사 결과' },
  'own.Condition': { en: 'your diagnoses', es: 'sus diagnósticos', ko: '나의 진단' },
  'any.Condition': { en: 'diagnoses', es: 'los diagnósticos', ko: '진단' },
  'own.MeasureReport': { en: 'de-identified summary tables', es: 'las tablas de resumen sin datos personales', ko: '개인 정보가 없는 요약 표' },
  'any.MeasureReport': { en: 'de-identified summary tables', es: 'las tablas de resumen sin datos personales', ko: '개인 정보가 없는 요약 표' },
  'own.*': { en: 'everything in your record', es: 'todo lo que hay en su expediente', ko: '내 기록 전체' },
  'any.*': { en: 'all kinds of records', es: 'todo tipo de registros', ko: '모든 종류의 기록' },
  'ctx.openid': { en: 'Know who you are (sign-in identity)', es: 'Saber quién es usted (identidad de inicio de sesión)', ko: '로그인한 사람이 누구인지 확인' },
  'ctx.fhirUser': { en: 'Know which patient record is yours', es: 'Saber cuál es su expediente', ko: '어느 환자 기록이 내 것인지 확인' },
  'ctx.fhirUser.staff': { en: 'Know which staff member you are (your Practitioner record)', es: 'Saber qué miembro del personal es usted (su registro de profesional)', ko: '어느 직원인지 확인 (의료인 기록)' },
  'ctx.launch': { en: 'Use the context the launching system provides', es: 'Usar el contexto que da el sistema que abre la app', ko: '앱을 연 시스템이 제공하는 정보 사용' },
  'ctx.launch/patient': { en: 'Know which patient record is selected', es: 'Saber qué expediente está seleccionado', ko: '선택된 환자 기록 확인' },
  'ctx.offline_access': { en: 'Keep access after you close the app, until you revoke it', es: 'Mantener el acceso después de cerrar la app, hasta que usted lo retire', ko: '앱을 닫은 뒤에도 철회할 때까지 접근 유지' },
  'ctx.online_access': { en: 'Keep access while you are using the app', es: 'Mantener el acceso mientras usa la app', ko: '앱을 사용하는 동안 접근 유지' },
  'ctx.operator': {
    en: 'Act as an operator of this hub: supply, draws and waves, opening night, registry and EHR sync, audit, clients and staff',
    es: 'Actuar como operador de este centro: suministro, sorteos y tandas, noche de apertura, sincronización con registros y EHR, auditoría, clientes y personal',
    ko: '이 허브의 운영자로 작업: 공급, 추첨과 단계, 오픈 당일 운영, 등록부·EHR 동기화, 감사, 클라이언트와 직원',
  },
} satisfies Record<string, Entry>;

export type PageKey = keyof typeof PAGE_TEXT;

/** The sentence in `lang` with `{name}` placeholders filled (values are escaped by the page, not here). */
export function pageText(lang: PageLanguage, key: PageKey, vars: Record<string, string> = {}): string {
  return PAGE_TEXT[key][lang].replace(/\{([\w/]+)\}/g, (m, name: string) => (name in vars ? vars[name]! : m));
}

export function hasPageText(key: string): key is PageKey {
  return Object.hasOwn(PAGE_TEXT, key);
}

/** Every sentence in every language (the unit test's check). */
export function missingPageText(): string[] {
  return Object.entries(PAGE_TEXT as Record<string, Entry>).flatMap(([k, e]) => PAGE_LANGUAGES.filter((l) => !e[l]?.trim()).map((l) => `${k}:${l}`));
}

/** A supported language from an OpenID Connect `ui_locales` list ("es-MX en"), or undefined when none is. */
export function fromUiLocales(uiLocales: string | undefined): PageLanguage | undefined {
  for (const tag of (uiLocales ?? '').split(/\s+/).filter(Boolean)) {
    const base = tag.toLowerCase().split(/[-_]/)[0];
    if ((PAGE_LANGUAGES as readonly string[]).includes(base ?? '')) return base as PageLanguage;
  }
  return undefined;
}

/** The best supported language of an Accept-Language header (by q value), or undefined. */
export function fromAcceptLanguage(header: string | undefined): PageLanguage | undefined {
  const ranked = (header ?? '').split(',').map((part, i) => {
    const [tag = '', ...params] = part.trim().split(';');
    const q = Number(params.find((p) => p.trim().startsWith('q='))?.trim().slice(2) ?? '1');
    return { tag: tag.trim(), q: Number.isFinite(q) ? q : 0, i };
  }).filter((x) => x.tag && x.q > 0).sort((a, b) => b.q - a.q || a.i - b.i);
  return fromUiLocales(ranked.map((x) => x.tag).join(' '));
}

/**
 * Which language a page speaks, first that applies: the language asked for on this request (`?lang=`, the pages'
 * own links), the one stored on the authorization request (the app's `ui_locales` or an earlier link), the
 * language the sign-up and wallet apps were last used in on this browser (their `vaxhub_lang` cookie), the
 * signed-in person's saved language, the browser's Accept-Language; English.
 */
export function pageLanguage(o: { query?: unknown; stored?: string | null; cookie?: string; saved?: string; acceptLanguage?: string }): PageLanguage {
  const q = typeof o.query === 'string' ? fromUiLocales(o.query) : undefined;
  return q ?? fromUiLocales(o.stored ?? undefined) ?? fromUiLocales(o.cookie) ?? (o.saved ? mailLanguage(o.saved) : undefined) ?? fromAcceptLanguage(o.acceptLanguage) ?? 'en';
}
