/**
 * The mail the public gets about invitations and appointments, in English, Spanish and Korean (issue 22: a
 * Spanish registrant got the invitation, code and confirmation mails in English, the confirmation said
 * "15:00:00 GMT" for a 9:00 appointment in Chicago and gave no place, and the invitation expiry was a raw ISO
 * timestamp). Every message exists in every language (a test fails when a key lacks one), times are the clinic's
 * local time in the language's format (src/notify/mail-locale.ts), and appointment mail names the vaccine and the
 * clinic with its address and a map link.
 */
import type { Location } from 'fhir/r4';
import { plurals } from './icu-plural.js';
import { addressLine, formatWhen, mapLink, MAIL_LANGUAGES, type MailLanguage } from './mail-locale.js';

const EN = {
  'booked.subject': 'Your vaccination appointment is booked',
  'booked.intro': 'Your vaccination appointment is booked.',
  'booked.bring': 'Bring an identity document. If you cannot come, cancel on the same sign-up page so that someone else can have the place.',
  'reminder.subject': 'Reminder: your vaccination appointment is tomorrow',
  'reminder.intro': 'This is a reminder of your vaccination appointment.',
  'reminder.cancel': 'If you cannot come, please cancel so that someone else can have the place.',
  'shortfall.subject': 'Your vaccination appointment needs to be moved',
  'shortfall.intro': 'A delivery of {product} is late, so we may not have your dose for this appointment:',
  'shortfall.options': 'You can keep your day with a compatible vaccine:',
  'shortfall.option': '{product}: {count, plural, one {# place} other {# places}} available at the same clinic',
  'shortfall.choose': 'Open the sign-up page to choose, or reply to be contacted.',
  'shortfall.rebook': 'We will contact you to rebook; you keep your priority.',
  'closure.subject': 'Your vaccination appointment is cancelled: the clinic is closed that day',
  'closure.intro': 'We are sorry: the clinic is closed on the day of your appointment ({reason}), so this appointment is cancelled:',
  'closure.reason.weather': 'bad weather',
  'closure.reason.supply': 'no vaccine supply',
  'closure.reason.staffing': 'not enough staff',
  'closure.reason.other': 'an unforeseen event',
  'closure.held': 'We are holding a new place for you before anyone else can book it, until {expires}:',
  'closure.confirm': 'To keep it, confirm it on the sign-up page (or call the clinic); you can also choose another time there: {link}',
  'closure.none': 'We have no free place to offer you yet. We will contact you to rebook, and you keep your priority.',
  'label.when': 'When',
  'label.vaccine': 'Vaccine',
  'label.where': 'Where',
  'label.map': 'Map',
  'label.ref': 'Booking reference',
  'label.qr': 'Show this code (or say the reference) at the clinic door to check in.',
  'label.qrAlt': 'QR code of your booking reference {ref}',
  'invitation.subject': 'You are invited to book your vaccination',
  'invitation.intro': 'You have been selected to book a vaccination appointment.',
  'invitation.link': 'Open this link to book: {link}',
  'invitation.valid': 'The invitation is valid until {expires} and only for you.',
  'invitation.code': 'To use it you will be asked for a one-time code that we send to this address.',
  'invitation.code-dob': 'To use it you will be asked for a one-time code that we send to this address and for your date of birth.',
  'invitation.forward': 'Please do not forward it.',
  'invitation.sms': 'vaxhub: you are invited to book your vaccination, until {expires}: {link} A one-time code will be texted to this number. Do not forward.',
  'letter.title': 'You are invited to book your vaccination',
  'letter.intro': 'You have been selected in the draw to book a vaccination appointment. This invitation is only for you.',
  'letter.how': 'To book, call the clinic or come to the clinic desk before {expires}, with this letter or your registration number. The staff will book your appointment for you.',
  'letter.number': 'Your registration number: {id}',
  'letter.valid': 'Valid until: {expires}',
  'letter.bring': 'Bring this letter and an identity document. If you do not want the appointment, you need not do anything.',
  'code.subject': 'Your vaccination invitation code',
  'code.text': 'Your one-time code is {code}. It is valid for {minutes, plural, one {# minute} other {# minutes}}. Nobody from the clinic will ever ask you for it.',
  'signin.subject': 'Your vaxhub sign-in code',
  'signin.text': 'Your vaxhub sign-in code is {code}. It expires in 10 minutes. If you did not ask for it, ignore this message.',
  'registered.subject': 'You are registered for a vaccination',
  'registered.intro': 'Thank you: you are registered for a vaccination appointment.',
  'registered.number': 'Your registration number: {id}',
  'registered.group': 'Your priority group: {group}',
  'registered.groupNone': 'Under the current rules you are not in a priority group yet. You stay registered; when the rules open to more people we look at your answers again.',
  'registered.groupWhat': 'Priority groups (phases such as 1a, 1b, 1c) are invited in order, as vaccine supply allows.',
  'registered.next': 'What happens next: when your group is invited, we draw invitations among the people registered in it. If you are selected, we email you a personal link to book; it is valid for a limited time. You do not need to call or to register again.',
  'registered.status': 'You can check your status on the sign-up page with your registration number and date of birth.',
  'followup.subject': 'How are you after your vaccination?',
  'followup.intro': 'You asked us to check in after your vaccination ({vaccine}, {date}). How are you? Three short questions, no sign-in needed:',
  'followup.emergency': 'If you have trouble breathing, swelling of the face or throat, or feel very unwell, call 911 now: this message does not reach anyone right away.',
  'followup.stop': 'To stop these check-ins: {link}',
  'followup.private': 'The link is only for you; please do not forward this message.',
  'followup.sms': 'vaxhub: how are you after your vaccination on {date}? {link} Stop: {stop}',
} as const;

export type PublicMailKey = keyof typeof EN;

const TEXT: Record<MailLanguage, Record<PublicMailKey, string>> = {
  en: EN,
  es: {
    'booked.subject': 'Su cita de vacunación está reservada',
    'booked.intro': 'Su cita de vacunación está reservada.',
    'booked.bring': 'Traiga un documento de identidad. Si no puede venir, cancele en la misma página de inscripción para que otra persona pueda usar el lugar.',
    'reminder.subject': 'Recordatorio: su cita de vacunación es mañana',
    'reminder.intro': 'Le recordamos su cita de vacunación.',
    'reminder.cancel': 'Si no puede venir, cancele la cita para que otra persona pueda usar el lugar.',
    'shortfall.subject': 'Su cita de vacunación debe cambiarse',
    'shortfall.intro': 'Una entrega de {product} se retrasó, así que es posible que no tengamos su dosis para esta cita:',
    'shortfall.options': 'Puede mantener el día con una vacuna compatible:',
    'shortfall.option': '{product}: {count, plural, one {# lugar disponible} other {# lugares disponibles}} en la misma clínica',
    'shortfall.choose': 'Abra la página de inscripción para elegir, o responda para que le contactemos.',
    'shortfall.rebook': 'Le contactaremos para reprogramar; conserva su prioridad.',
    'closure.subject': 'Su cita de vacunación se canceló: la clínica está cerrada ese día',
    'closure.intro': 'Lo sentimos: la clínica está cerrada el día de su cita ({reason}), así que esta cita se canceló:',
    'closure.reason.weather': 'mal tiempo',
    'closure.reason.supply': 'falta de vacunas',
    'closure.reason.staffing': 'falta de personal',
    'closure.reason.other': 'un imprevisto',
    'closure.held': 'Le guardamos un nuevo lugar antes de que otra persona pueda reservarlo, hasta el {expires}:',
    'closure.confirm': 'Para conservarlo, confírmelo en la página de inscripción (o llame a la clínica); allí también puede elegir otro horario: {link}',
    'closure.none': 'Todavía no tenemos un lugar libre para ofrecerle. Le contactaremos para reprogramar; conserva su prioridad.',
    'label.when': 'Cuándo',
    'label.vaccine': 'Vacuna',
    'label.where': 'Dónde',
    'label.map': 'Mapa',
    'label.ref': 'Referencia de la cita',
    'label.qr': 'Muestre este código (o diga la referencia) en la entrada de la clínica para registrar su llegada.',
    'label.qrAlt': 'Código QR de su referencia de cita {ref}',
    'invitation.subject': 'Está invitado a reservar su vacunación',
    'invitation.intro': 'Ha sido seleccionado para reservar una cita de vacunación.',
    'invitation.link': 'Abra este enlace para reservar: {link}',
    'invitation.valid': 'La invitación es válida hasta el {expires} y solo para usted.',
    'invitation.code': 'Para usarla se le pedirá un código de un solo uso que enviamos a esta dirección.',
    'invitation.code-dob': 'Para usarla se le pedirá un código de un solo uso que enviamos a esta dirección y su fecha de nacimiento.',
    'invitation.forward': 'No la reenvíe.',
    'invitation.sms': 'vaxhub: está invitado a reservar su vacunación, hasta el {expires}: {link} Le enviaremos un código de un solo uso por SMS a este número. No lo reenvíe.',
    'letter.title': 'Está invitado a reservar su vacunación',
    'letter.intro': 'Ha sido seleccionado en el sorteo para reservar una cita de vacunación. Esta invitación es solo para usted.',
    'letter.how': 'Para reservar, llame a la clínica o venga al mostrador de la clínica antes del {expires}, con esta carta o su número de inscripción. El personal reservará la cita por usted.',
    'letter.number': 'Su número de inscripción: {id}',
    'letter.valid': 'Válida hasta: {expires}',
    'letter.bring': 'Traiga esta carta y un documento de identidad. Si no desea la cita, no necesita hacer nada.',
    'code.subject': 'Su código de invitación para vacunarse',
    'code.text': 'Su código de un solo uso es {code}. Es válido durante {minutes, plural, one {# minuto} other {# minutos}}. Nadie de la clínica se lo pedirá nunca.',
    'signin.subject': 'Su código para iniciar sesión en vaxhub',
    'signin.text': 'Su código para iniciar sesión en vaxhub es {code}. Vence en 10 minutos. Si no lo pidió, ignore este mensaje.',
    'registered.subject': 'Está inscrito para vacunarse',
    'registered.intro': 'Gracias: está inscrito para una cita de vacunación.',
    'registered.number': 'Su número de inscripción: {id}',
    'registered.group': 'Su grupo de prioridad: {group}',
    'registered.groupNone': 'Según las reglas actuales aún no está en un grupo de prioridad. Sigue inscrito; cuando las reglas se abran a más personas revisaremos sus respuestas otra vez.',
    'registered.groupWhat': 'Los grupos de prioridad (fases como 1a, 1b, 1c) se invitan por orden, según haya vacunas disponibles.',
    'registered.next': 'Qué sigue: cuando se invite a su grupo, sortearemos invitaciones entre las personas inscritas en él. Si sale seleccionado, le enviaremos por correo un enlace personal para reservar, válido por tiempo limitado. No necesita llamar ni inscribirse otra vez.',
    'registered.status': 'Puede consultar su estado en la página de inscripción con su número de inscripción y su fecha de nacimiento.',
    'followup.subject': '¿Cómo se siente después de vacunarse?',
    'followup.intro': 'Nos pidió consultarle después de su vacuna ({vaccine}, {date}). ¿Cómo está? Tres preguntas breves, sin iniciar sesión:',
    'followup.emergency': 'Si tiene dificultad para respirar, hinchazón de la cara o la garganta, o se siente muy mal, llame al 911 ahora: este mensaje no llega a nadie de inmediato.',
    'followup.stop': 'Para dejar de recibir estas consultas: {link}',
    'followup.private': 'El enlace es solo para usted; no reenvíe este mensaje.',
    'followup.sms': 'vaxhub: ¿cómo se siente después de su vacuna del {date}? {link} Dejar de recibir: {stop}',
  },
  ko: {
    'booked.subject': '예방접종 예약이 완료되었습니다',
    'booked.intro': '예방접종 예약이 완료되었습니다.',
    'booked.bring': '신분증을 지참하세요. 오실 수 없으면 다른 분이 이용할 수 있도록 같은 신청 페이지에서 취소해 주세요.',
    'reminder.subject': '알림: 내일 예방접종 예약이 있습니다',
    'reminder.intro': '예방접종 예약을 알려 드립니다.',
    'reminder.cancel': '오실 수 없으면 다른 분이 이용할 수 있도록 예약을 취소해 주세요.',
    'shortfall.subject': '예방접종 예약을 변경해야 합니다',
    'shortfall.intro': '{product} 배송이 늦어져 이 예약에 맞춰 접종할 백신이 없을 수 있습니다:',
    'shortfall.options': '호환되는 백신으로 같은 날짜를 유지할 수 있습니다:',
    'shortfall.option': '{product}: 같은 접종소에 {count}자리 있음',
    'shortfall.choose': '신청 페이지에서 선택하시거나, 회신하시면 연락드리겠습니다.',
    'shortfall.rebook': '다시 예약하도록 연락드리겠습니다. 우선순위는 유지됩니다.',
    'closure.subject': '예방접종 예약이 취소되었습니다: 해당일에 접종소가 문을 닫습니다',
    'closure.intro': '죄송합니다. 예약하신 날 접종소가 문을 닫아({reason}) 이 예약이 취소되었습니다:',
    'closure.reason.weather': '악천후',
    'closure.reason.supply': '백신 공급 부족',
    'closure.reason.staffing': '인력 부족',
    'closure.reason.other': '예기치 못한 사정',
    'closure.held': '다른 사람이 예약하기 전에 귀하를 위해 새 자리를 {expires}까지 잡아 두었습니다:',
    'closure.confirm': '이 자리를 유지하려면 신청 페이지에서 확인하세요(또는 접종소에 전화하세요). 그곳에서 다른 시간을 고를 수도 있습니다: {link}',
    'closure.none': '아직 제공할 수 있는 빈자리가 없습니다. 다시 예약하도록 연락드리겠으며, 우선순위는 유지됩니다.',
    'label.when': '일시',
    'label.vaccine': '백신',
    'label.where': '장소',
    'label.map': '지도',
    'label.ref': '예약 번호',
    'label.qr': '접종소 입구에서 이 코드를 보여 주시거나 예약 번호를 말씀하시면 접수됩니다.',
    'label.qrAlt': '예약 번호 {ref}의 QR 코드',
    'invitation.subject': '예방접종 예약에 초대되었습니다',
    'invitation.intro': '예방접종 예약 대상자로 선정되었습니다.',
    'invitation.link': '이 링크를 열어 예약하세요: {link}',
    'invitation.valid': '초대장은 {expires}까지 유효하며 본인만 사용할 수 있습니다.',
    'invitation.code': '사용하실 때 이 주소로 보내 드리는 일회용 코드를 입력하셔야 합니다.',
    'invitation.code-dob': '사용하실 때 이 주소로 보내 드리는 일회용 코드와 생년월일을 입력하셔야 합니다.',
    'invitation.forward': '다른 사람에게 전달하지 마세요.',
    'invitation.sms': 'vaxhub: {expires}까지 예방접종을 예약하실 수 있습니다: {link} 이 번호로 일회용 코드를 문자로 보내 드립니다. 다른 사람에게 전달하지 마세요.',
    'letter.title': '예방접종 예약에 초대되었습니다',
    'letter.intro': '추첨에서 예방접종 예약 대상자로 선정되었습니다. 이 초대장은 본인만 사용할 수 있습니다.',
    'letter.how': '예약하시려면 {expires} 전에 이 편지나 등록 번호를 가지고 접종소에 전화하시거나 접종소 창구로 오세요. 직원이 대신 예약해 드립니다.',
    'letter.number': '등록 번호: {id}',
    'letter.valid': '유효 기한: {expires}',
    'letter.bring': '이 편지와 신분증을 지참하세요. 예약을 원하지 않으시면 아무것도 하지 않으셔도 됩니다.',
    'code.subject': '예방접종 초대 코드',
    'code.text': '일회용 코드는 {code}입니다. {minutes}분 동안 유효합니다. 접종소 직원은 절대 이 코드를 묻지 않습니다.',
    'signin.subject': 'vaxhub 로그인 코드',
    'signin.text': 'vaxhub 로그인 코드는 {code}입니다. 10분 후에 만료됩니다. 요청하지 않으셨다면 이 메시지를 무시하세요.',
    'registered.subject': '예방접종 등록이 완료되었습니다',
    'registered.intro': '감사합니다. 예방접종 예약 대상자로 등록되었습니다.',
    'registered.number': '등록 번호: {id}',
    'registered.group': '우선순위 그룹: {group}',
    'registered.groupNone': '현재 기준으로는 아직 우선순위 그룹에 해당하지 않습니다. 등록은 유지되며, 기준이 확대되면 답변을 다시 확인합니다.',
    'registered.groupWhat': '우선순위 그룹(1a, 1b, 1c 등 단계)은 백신 공급에 따라 순서대로 초대됩니다.',
    'registered.next': '다음 단계: 귀하의 그룹 차례가 되면 그룹에 등록된 분들 중에서 초대 대상을 추첨합니다. 선정되면 예약용 개인 링크를 이메일로 보내 드리며, 링크는 정해진 기간 동안만 유효합니다. 전화하거나 다시 등록하실 필요가 없습니다.',
    'registered.status': '등록 번호와 생년월일로 신청 페이지에서 상태를 확인할 수 있습니다.',
    'followup.subject': '예방접종 후 어떠세요?',
    'followup.intro': '예방접종({vaccine}, {date}) 후 안부를 여쭤 달라고 하셨습니다. 어떠세요? 로그인 없이 짧은 질문 세 가지에 답해 주세요:',
    'followup.emergency': '숨쉬기 어렵거나 얼굴이나 목이 붓거나 몸이 매우 안 좋으면 지금 바로 911에 전화하세요. 이 메시지는 누구에게도 즉시 전달되지 않습니다.',
    'followup.stop': '이 확인 메시지를 그만 받으려면: {link}',
    'followup.private': '이 링크는 본인만 사용할 수 있습니다. 이 메시지를 다른 사람에게 전달하지 마세요.',
    'followup.sms': 'vaxhub: {date} 예방접종 후 어떠세요? {link} 그만 받기: {stop}',
  },
};

/** The whole catalogue (the browser tests look for English sentences in mail that should be in another language). */
export function publicMailCatalogue(): Record<MailLanguage, Record<string, string>> {
  return TEXT;
}

/** Keys missing in a language (none, or a test fails). */
export function missingMailTranslations(): string[] {
  return MAIL_LANGUAGES.flatMap((l) => (Object.keys(EN) as PublicMailKey[]).filter((k) => !TEXT[l][k]?.trim()).map((k) => `${l}:${k}`));
}

export function mailText(language: MailLanguage, key: PublicMailKey, vars: Record<string, string | number> = {}): string {
  return plurals(TEXT[language][key], language, vars).replace(/\{(\w+)\}/g, (all, k: string) => (vars[k] !== undefined ? String(vars[k]) : all));
}

/** What an appointment mail says about the appointment: when (clinic time), which vaccine, where, a map, the reference. */
export interface AppointmentFacts {
  start?: string;
  timeZone: string;
  productName?: string;
  location?: Location;
  reference: string;
}

/** The appointment's facts as (label key, value) pairs, those known only: the text lines and the HTML list alike. */
export function appointmentFields(language: MailLanguage, f: AppointmentFacts): Array<[PublicMailKey, string]> {
  const where = [f.location?.name, addressLine(f.location)].filter(Boolean).join(', ');
  const all: Array<[PublicMailKey, string | undefined]> = [
    ['label.when', f.start ? formatWhen(f.start, f.timeZone, language) : undefined],
    ['label.vaccine', f.productName],
    ['label.where', where || undefined],
    ['label.map', mapLink(f.location)],
    ['label.ref', f.reference],
  ];
  return all.filter((x): x is [PublicMailKey, string] => !!x[1]);
}

export function appointmentLines(language: MailLanguage, f: AppointmentFacts): string[] {
  return appointmentFields(language, f).map(([k, v]) => `${mailText(language, k)}: ${v}`);
}

export function bookedMail(language: MailLanguage, f: AppointmentFacts): { subject: string; text: string } {
  return {
    subject: mailText(language, 'booked.subject'),
    text: [mailText(language, 'booked.intro'), '', ...appointmentLines(language, f), '', mailText(language, 'booked.bring')].join('\n'),
  };
}

export function reminderMail(language: MailLanguage, f: AppointmentFacts): { subject: string; text: string } {
  return {
    subject: mailText(language, 'reminder.subject'),
    text: [mailText(language, 'reminder.intro'), '', ...appointmentLines(language, f), '', mailText(language, 'reminder.cancel')].join('\n'),
  };
}

export function shortfallMail(
  language: MailLanguage,
  f: AppointmentFacts & { lateProductName: string; substitutes: Array<{ productName: string; places: number }> },
): { subject: string; text: string } {
  const options = f.substitutes.map((s) => `  - ${mailText(language, 'shortfall.option', { product: s.productName, count: s.places })}`);
  return {
    subject: mailText(language, 'shortfall.subject'),
    text: [
      mailText(language, 'shortfall.intro', { product: f.lateProductName }),
      '',
      ...appointmentLines(language, f),
      '',
      ...(options.length ? [mailText(language, 'shortfall.options'), ...options, mailText(language, 'shortfall.choose')] : [mailText(language, 'shortfall.rebook')]),
    ].join('\n'),
  };
}

export function invitationMail(
  language: MailLanguage,
  f: { link: string; expiresAt: Date; timeZone: string; askBirthDate: boolean },
): { subject: string; text: string } {
  return {
    subject: mailText(language, 'invitation.subject'),
    text: [
      mailText(language, 'invitation.intro'),
      mailText(language, 'invitation.link', { link: f.link }),
      mailText(language, 'invitation.valid', { expires: formatWhen(f.expiresAt, f.timeZone, language) }),
      mailText(language, f.askBirthDate ? 'invitation.code-dob' : 'invitation.code'),
      mailText(language, 'invitation.forward'),
    ].join('\n'),
  };
}

/**
 * The invitation as a text message (issue 21: a phone-only person drawn was never told): one short message with the
 * link and the expiry; the code comes by text too (tickets.ts sendClaimCode).
 */
export function invitationText(language: MailLanguage, f: { link: string; expiresAt: Date; timeZone: string }): { subject: string; text: string } {
  return { subject: mailText(language, 'invitation.subject'), text: mailText(language, 'invitation.sms', { link: f.link, expires: formatWhen(f.expiresAt, f.timeZone, language) }) };
}

export function invitationCodeMail(language: MailLanguage, f: { code: string; minutes: number }): { subject: string; text: string } {
  return { subject: mailText(language, 'code.subject'), text: mailText(language, 'code.text', { code: f.code, minutes: f.minutes }) };
}

export function signInCodeMail(language: MailLanguage, code: string): { subject: string; text: string } {
  return { subject: mailText(language, 'signin.subject'), text: mailText(language, 'signin.text', { code }) };
}

/**
 * The confirmation of a registration (issue 22, item 7: nobody heard anything after registering), with the
 * registration number, the priority group and what happens next, so nobody has to call to ask.
 */
export function registeredMail(language: MailLanguage, f: { registrationNumber: string; group: string | null }): { subject: string; text: string } {
  return {
    subject: mailText(language, 'registered.subject'),
    text: [
      mailText(language, 'registered.intro'),
      '',
      mailText(language, 'registered.number', { id: f.registrationNumber }),
      f.group ? mailText(language, 'registered.group', { group: f.group }) : mailText(language, 'registered.groupNone'),
      mailText(language, 'registered.groupWhat'),
      '',
      mailText(language, 'registered.next'),
      '',
      mailText(language, 'registered.status'),
    ].join('\n'),
  };
}

export type ClosureReason = 'weather' | 'supply' | 'staffing' | 'other';
export const CLOSURE_REASONS: readonly ClosureReason[] = ['weather', 'supply', 'staffing', 'other'];

/**
 * The clinic closed on the day of the person's appointment (weather, supply): the cancelled appointment, and the
 * place held for them first (when one was found) with how to confirm it, or the promise to be contacted.
 */
/** The closure notice as a text message (an email-to-SMS gateway): the cancelled time and the held one, briefly. */
export function closureText(
  language: MailLanguage,
  f: AppointmentFacts & { reason: ClosureReason; offer?: AppointmentFacts & { expiresAt: Date }; link: string },
): { subject: string; text: string } {
  const when = (x: AppointmentFacts): string => (x.start ? formatWhen(x.start, x.timeZone, language) : x.reference);
  return {
    subject: mailText(language, 'closure.subject'),
    text: [
      `${mailText(language, 'closure.subject')}: ${when(f)} (${mailText(language, `closure.reason.${f.reason}`)}).`,
      f.offer ? `${mailText(language, 'closure.held', { expires: formatWhen(f.offer.expiresAt, f.offer.timeZone, language) })} ${when(f.offer)}. ${f.link}` : mailText(language, 'closure.none'),
    ].join(' '),
  };
}

export function closureMail(
  language: MailLanguage,
  f: AppointmentFacts & { reason: ClosureReason; offer?: AppointmentFacts & { expiresAt: Date }; link: string },
): { subject: string; text: string } {
  const reason = mailText(language, `closure.reason.${f.reason}`);
  return {
    subject: mailText(language, 'closure.subject'),
    text: [
      mailText(language, 'closure.intro', { reason }),
      '',
      ...appointmentLines(language, f),
      '',
      ...(f.offer
        ? [mailText(language, 'closure.held', { expires: formatWhen(f.offer.expiresAt, f.offer.timeZone, language) }), '', ...appointmentLines(language, f.offer), '', mailText(language, 'closure.confirm', { link: f.link })]
        : [mailText(language, 'closure.none')]),
    ].join('\n'),
  };
}

/**
 * A follow-up check-in after a dose (src/safety/followup/): the form's link (its token is the only key to it) and
 * the stop link; as a text message (an email-to-SMS gateway) the short form.
 */
export function followupMail(language: MailLanguage, f: { vaccine: string; date: string; link: string; stopLink: string }, channel: 'mail' | 'sms' = 'mail'): { subject: string; text: string } {
  if (channel === 'sms') return { subject: mailText(language, 'followup.subject'), text: mailText(language, 'followup.sms', { date: f.date, link: f.link, stop: f.stopLink }) };
  return {
    subject: mailText(language, 'followup.subject'),
    text: [
      mailText(language, 'followup.intro', { vaccine: f.vaccine, date: f.date }),
      '',
      f.link,
      '',
      mailText(language, 'followup.emergency'),
      '',
      mailText(language, 'followup.stop', { link: f.stopLink }),
      mailText(language, 'followup.private'),
    ].join('\n'),
  };
}
