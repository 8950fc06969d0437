/**
 * "My booking": after signing in (SMART, one-time code by email) the person's upcoming appointments, each with
 * "Change time" (a $find search, then $book with cancelled-appt-id: the move is atomic) and "Cancel" (the
 * Appointment updated to status cancelled, which frees the place).
 */
import type { Appointment, Bundle, Location, Reference } from 'fhir/r4';
import { call } from '../shared/api.js';
import { announce, h } from '../shared/dom.js';
import { formatDate, t } from '../shared/i18n.js';
import { doseNumberOf, moveBooking, seriesLength } from './booking.js';
import { errorText, type AppContext } from './context.js';
import { findView } from './find-view.js';
import { addressText, clinicZone } from './slots.js';
import { vaccineName } from '../shared/fhir-text.js';
import { bearerOf, signIn, signOut, type SmartClient } from './session.js';
import { load, save } from './state.js';
import { referenceQr, shownReference } from '../shared/booking-ref.js';

const EXT_PRODUCT = 'http://fhir-registry.smarthealthit.org/StructureDefinition/vaccine-product';

/** The person's coming appointments, with their clinics (issue 22: "My booking" did not say where). */
async function upcoming(client: SmartClient): Promise<{ appointments: Appointment[]; clinics: Map<string, Location> }> {
  const since = new Date().toISOString().slice(0, 10);
  const b = (await client.request(`Appointment?patient=${client.patient.id}&date=ge${since}&_include=Appointment:location&_count=50`)) as Bundle<Appointment | Location>;
  const resources = (b.entry ?? []).map((e) => e.resource!).filter(Boolean);
  const clinics = new Map(resources.filter((r): r is Location => r.resourceType === 'Location').map((l) => [`Location/${l.id}`, l]));
  const appointments = resources.filter((r): r is Appointment => r.resourceType === 'Appointment' && ['booked', 'pending'].includes(r.status))
    .sort((a, b2) => (a.start ?? '').localeCompare(b2.start ?? ''));
  return { appointments, clinics };
}

function clinicOfAppointment(a: Appointment, clinics: Map<string, Location>): { ref?: Reference; clinic?: Location } {
  const ref = a.participant.find((p) => p.actor?.reference?.startsWith('Location/'))?.actor;
  return { ref, clinic: ref?.reference ? clinics.get(ref.reference) : undefined };
}

/** The clinic's name and address, as a person reads them over the phone. */
function placeOf(a: Appointment, clinics: Map<string, Location>): string {
  const { ref, clinic } = clinicOfAppointment(a, clinics);
  return [clinic?.name ?? ref?.display, clinic ? addressText(clinic) : ''].filter(Boolean).join(', ');
}

/** "1 of 2" as the booked page writes it (it said "1" here), the bare number for a product the hub does not list. */
function doseText(app: AppContext, cvx: string | undefined, n: number): string {
  const total = cvx ? seriesLength(app.cfg, cvx) : undefined;
  return total ? t('appt.doseOf', { n, total }) : String(n);
}

export function manageView(app: AppContext, client: SmartClient | undefined, failureText?: string): Node[] {
  if (!client) {
    return [
      h('h2', {}, t('manage.title')),
      h('p', {}, t('manage.intro')),
      failureText ? announce(t('signin.failed', { message: failureText }), 'alert') : null,
      h('button', { type: 'button', id: 'manage-sign-in', onclick: () => void signIn(app.cfg) }, t('manage.signIn')),
    ].filter((x): x is HTMLElement => !!x);
  }
  const list = h('ul', { class: 'records', id: 'my-appointments' });
  const notice = h('div', { id: 'manage-notice' });
  const area = h('div', { id: 'manage-area' }, notice, list);

  const cancel = async (a: Appointment): Promise<void> => {
    const current = (await client.request(`Appointment/${a.id}`)) as Appointment;
    // Sent as a one-entry transaction: the hub's HTTP admission gate treats every plain PUT Appointment as a
    // booking attempt (even a cancellation), while the FHIR layer's gate, which every path reaches, tells a
    // cancellation from a booking. If-Match keeps a concurrent change from being overwritten.
    const bundle: Bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: [{ resource: { ...current, status: 'cancelled' } as Appointment, request: { method: 'PUT', url: `Appointment/${a.id}`, ...(current.meta?.versionId ? { ifMatch: `W/"${current.meta.versionId}"` } : {}) } }],
    };
    await call(app.cfg.fhirBaseUrl, { body: bundle, fhir: true, headers: { authorization: await bearerOf(client) } });
    notice.replaceChildren(announce(t('manage.cancelled')));
    if (load('booking')?.appointmentId === a.id) save('booking', undefined);
    await draw();
  };

  const reschedule = (a: Appointment, zone: string | undefined): void => {
    area.replaceChildren(...findView(app, {
      note: t('find.rescheduling', { date: formatDate(a.start, true, zone) }),
      // A move keeps the vaccine booked.
      initialProductCvx: a.extension?.find((e) => e.url === EXT_PRODUCT)?.valueCoding?.code,
      bearer: () => bearerOf(client),
      async pick(clinic, slot) {
        const moved = await moveBooking(app.cfg.fhirBaseUrl, slot.slotId, a.id!, client.patient.id ?? undefined, { bearer: await bearerOf(client) });
        save('booking', {
          appointmentId: moved.id!, reference: shownReference(moved), doseNumber: doseNumberOf(moved),
          slot: { slotId: slot.slotId, start: slot.start, end: slot.end, locationName: clinic.name, address: clinic.address, productCvx: slot.productCvx, productName: slot.productName, timeZone: clinic.timeZone },
        });
        // The list still holds the appointment just moved: emptied until it is drawn again, so that nobody (and no
        // test) reads the old time under the "moved" notice.
        list.replaceChildren();
        area.replaceChildren(notice, list);
        notice.replaceChildren(announce(t('manage.rescheduled')), h('p', {}, h('a', { href: '#booked' }, t('booked.title'))));
        await draw();
      },
    }));
    document.getElementById('find-near')?.focus();
  };

  const item = (a: Appointment, clinics: Map<string, Location>): HTMLElement => {
    const place = placeOf(a, clinics);
    const zone = clinicZone(clinicOfAppointment(a, clinics).clinic, app.cfg.timeZone);
    const product = a.extension?.find((e) => e.url === EXT_PRODUCT)?.valueCoding;
    const confirmBox = h('div', { class: 'confirm', hidden: true },
      h('p', { role: 'alert' }, t('manage.cancelConfirm')),
      h('button', { type: 'button', class: 'danger', onclick: () => void cancel(a).catch((e: unknown) => notice.replaceChildren(announce(errorText(e), 'alert'))) }, t('manage.cancelYes')),
      h('button', { type: 'button', class: 'secondary', onclick: () => (confirmBox.hidden = true) }, t('manage.keep')));
    return h('li', { 'data-appointment': a.id! },
      h('dl', { class: 'facts' },
        h('dt', {}, t('appt.when')), h('dd', { class: 'when' }, formatDate(a.start, true, zone)),
        place ? h('dt', {}, t('appt.where')) : null, place ? h('dd', { class: 'place' }, place) : null,
        h('dt', {}, t('appt.vaccine')), h('dd', {}, (product?.code && vaccineName(product.code)) || product?.display || product?.code || ''),
        h('dt', {}, t('appt.dose')), h('dd', { class: 'dose' }, doseText(app, product?.code, doseNumberOf(a))),
        h('dt', {}, t('appt.ref')), h('dd', {}, shownReference(a))),
      // The same QR code as the confirmation, to show at the clinic door (issue 21).
      referenceQr(shownReference(a), null),
      h('p', {},
        h('button', { type: 'button', class: 'secondary reschedule', onclick: () => reschedule(a, zone) }, t('manage.reschedule')),
        h('button', { type: 'button', class: 'danger cancel', onclick: () => {
          confirmBox.hidden = false;
          (confirmBox.querySelector('button.danger') as HTMLButtonElement).focus();
        } }, t('manage.cancel'))),
      confirmBox);
  };

  const draw = async (): Promise<void> => {
    const { appointments, clinics } = await upcoming(client);
    list.replaceChildren(...(appointments.length ? appointments.map((a) => item(a, clinics)) : [h('li', { class: 'empty' }, t('manage.none'))]));
  };
  draw().catch((e: unknown) => notice.replaceChildren(announce(errorText(e), 'alert')));
  return [
    h('h2', {}, t('manage.title')),
    area,
    h('p', {}, h('button', { type: 'button', class: 'secondary', onclick: () => {
      signOut();
      app.go('#home');
      location.reload();
    } }, t('manage.signOut'))),
  ];
}
