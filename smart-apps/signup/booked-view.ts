/**
 * #hold: the place held for a few minutes, with "Confirm booking" ($book) and "Choose another time".
 * #booked: the confirmation - when, where, vaccine, dose n of N, the next dose's dates, and the .ics file.
 */
import { announce, h } from '../shared/dom.js';
import { downloadCalendar } from '../shared/ics.js';
import { formatDate, formatTime, t } from '../shared/i18n.js';
import { vaccineName } from '../shared/fhir-text.js';
import { bookHeld, bookingCalendar, doseNumberOf, nextDose, seriesLength } from './booking.js';
import { errorText, type AppContext } from './context.js';
import { liveClaim, load, save, type SlotChoice } from './state.js';
import { followupChoice } from '../shared/followup-choice.js';
import { referenceQr, shownReference } from '../shared/booking-ref.js';

function slotFacts(s: SlotChoice, extra: Node[] = []): HTMLElement {
  return h('dl', { class: 'facts' },
    h('dt', {}, t('appt.when')), h('dd', { class: 'when' }, formatDate(s.start, true, s.timeZone)),
    h('dt', {}, t('appt.where')), h('dd', {}, `${s.locationName}, ${s.address}`),
    h('dt', {}, t('appt.vaccine')), h('dd', {}, vaccineName(s.productCvx) ?? s.productName),
    ...extra);
}

export function holdView(app: AppContext): Node[] {
  const hold = load('hold');
  if (!hold) {
    queueMicrotask(() => app.go('#find'));
    return [];
  }
  const out = h('div', { id: 'hold-result' });
  const expired = Date.parse(hold.expiresAt) <= Date.now();
  const confirm = h('button', { type: 'button', id: 'confirm-booking', disabled: expired }, t('hold.confirm'));
  const timer = setTimeout(() => {
    confirm.disabled = true;
    out.replaceChildren(announce(t('hold.expired'), 'alert'));
  }, Math.max(0, Date.parse(hold.expiresAt) - Date.now()));
  app.onLeave(() => clearTimeout(timer));
  confirm.addEventListener('click', () => {
    confirm.disabled = true;
    bookHeld(app.cfg.fhirBaseUrl, hold.appointmentId, hold.idempotencyKey).then(
      (a) => {
        save('booking', { appointmentId: a.id!, reference: shownReference(a), slot: hold.slot, doseNumber: doseNumberOf(a) });
        save('hold', undefined);
        app.go('#booked');
      },
      (e: unknown) => {
        confirm.disabled = false;
        out.replaceChildren(announce(errorText(e), 'alert'));
      },
    );
  });
  return [
    h('h2', {}, t('hold.title')),
    h('p', { class: 'status', role: 'status' }, expired ? t('hold.expired') : t('hold.until', { time: formatTime(hold.expiresAt) })),
    slotFacts(hold.slot),
    out,
    h('p', {}, confirm, h('a', { href: '#find', class: 'button secondary' }, t('hold.other'))),
  ];
}

/**
 * Check-ins after the vaccination, offered with the confirmation while the claimed invitation still vouches for the
 * person (its token names their Patient); later, the wallet offers the same choice.
 */
function followupOffer(app: AppContext): HTMLElement[] {
  const claim = liveClaim();
  if (!claim) return [];
  const url = `${app.hub}/followups/Patient/${encodeURIComponent(claim.patientId)}/preference`;
  return [followupChoice((init) => fetch(url, { ...(init ?? {}), headers: { 'X-Claim-Token': claim.claimToken, ...(init ? { 'content-type': 'application/json' } : {}) }, cache: 'no-store' }), 'signup')];
}

export function bookedView(app: AppContext): Node[] {
  const b = load('booking');
  if (!b) {
    queueMicrotask(() => app.go('#status'));
    return [];
  }
  const total = seriesLength(app.cfg, b.slot.productCvx);
  const next = nextDose(app.cfg, b.slot.productCvx, b.doseNumber, b.slot.start);
  const ics = h('button', { type: 'button', id: 'download-ics' }, t('booked.ics'));
  ics.addEventListener('click', () => downloadCalendar(bookingCalendar(app.cfg, b, location.host), 'vaccination-appointment.ics'));
  return [
    h('h2', { id: 'booked-title' }, t('booked.title')),
    slotFacts(b.slot, [
      h('dt', {}, t('appt.dose')), h('dd', {}, total ? t('appt.doseOf', { n: b.doseNumber, total }) : String(b.doseNumber)),
      h('dt', {}, t('appt.ref')), h('dd', { id: 'appointment-ref' }, b.reference ?? b.appointmentId),
    ]),
    h('p', { id: 'next-dose' }, next ? t('booked.secondDose', { n: next.doseNumber, due: formatDate(next.due), earliest: formatDate(next.earliest) }) : t('booked.single')),
    ...[referenceQr(b.reference)].filter((x): x is HTMLElement => !!x),
    h('p', {}, t('booked.mail')),
    h('p', {}, ics),
    ...followupOffer(app),
    h('p', { class: 'hint' }, t('booked.manage'), ' ', h('a', { href: '#manage' }, t('signup.navManage'))),
  ];
}
