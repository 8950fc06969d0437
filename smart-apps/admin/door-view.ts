/**
 * #door (issue 21): check-in at the clinic door. The booking reference is typed (a typo is caught by its check
 * character before anything is asked) or its QR code on the confirmation is scanned with the device's camera
 * (getUserMedia + jsQR); the booking is found through FHIR (`Appointment?identifier=`, with its person and clinic),
 * shown, and checked in with `Appointment/[id]/$check-in`. A walk-in is registered, booked into the first free place
 * within the hour and checked in, in one step.
 */
import type { Appointment, Bundle, Location, Patient } from 'fhir/r4';
import jsQRModule, { type Options as JsQrOptions, type QRCode as JsQrCode } from 'jsqr';
import { BOOKING_REFERENCE_SYSTEM, formatReference, parseReference } from '../../src/scheduling/booking-reference.js';
import { announce, field, h } from '../shared/dom.js';
import { formatDate, t } from '../shared/i18n.js';
import { vaccineName } from '../shared/fhir-text.js';
import { adminCall } from './api.js';
import { failed } from './ui.js';

// jsqr is CommonJS whose types say `export default` under NodeNext: the function is the module or its default.
const jsQR = ((jsQRModule as unknown as { default?: unknown }).default ?? jsQRModule) as (data: Uint8ClampedArray, width: number, height: number, options?: JsQrOptions) => JsQrCode | null;

// The SMART Scheduling Links extensions the hub's Appointments carry (src/scheduling/slot-view.ts).
const EXT_PRODUCT = 'http://fhir-registry.smarthealthit.org/StructureDefinition/vaccine-product';
const EXT_DOSE = 'http://fhir-registry.smarthealthit.org/StructureDefinition/vaccine-dose';

/** The words for a typed reference that cannot be one (length, character, check), or undefined when it is fine. */
export function referenceProblem(typed: string): string | undefined {
  const p = parseReference(typed);
  if (p.ok) return undefined;
  if (p.problem === 'length') return t('door.badLength', { n: typed.replace(/[\s\-_.]/g, '').length });
  if (p.problem === 'character') return t('door.badChar', { c: /'(.)'/.exec(p.detail)?.[1] ?? '?' });
  return t('door.badCheck');
}

const nameOf = (p: Patient | undefined): string => [...(p?.name?.[0]?.given ?? []), p?.name?.[0]?.family].filter(Boolean).join(' ');

export function doorView(onLeave: (fn: () => void) => void): Node[] {
  const card = h('div', { id: 'door-result', 'aria-live': 'polite' });
  const scanner = h('div', { id: 'scanner' });
  const form = h('form', { id: 'door-form', class: 'desk-row' },
    field('door-ref', t('door.ref'), { required: true, autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', maxlength: '20' }, t('door.refHint')),
    h('button', { type: 'submit' }, t('door.find')));
  let stop: (() => void) | undefined;
  const stopScan = (): void => {
    stop?.();
    stop = undefined;
    scanner.replaceChildren();
    scanButton.textContent = t('door.scan');
  };
  onLeave(stopScan);
  const lookUp = (typed: string): void => {
    const problem = referenceProblem(typed);
    if (problem) {
      card.replaceChildren(announce(problem, 'alert'));
      return;
    }
    void showBooking(card, (parseReference(typed) as { reference: string }).reference);
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    lookUp((document.getElementById('door-ref') as HTMLInputElement).value);
  });
  const scanButton = h('button', { type: 'button', id: 'door-scan', class: 'secondary', onclick: () => {
    if (stop) return stopScan();
    scanButton.textContent = t('door.stopScan');
    startScanner(scanner, (text) => {
      stopScan();
      (document.getElementById('door-ref') as HTMLInputElement).value = text;
      lookUp(text);
    }).then((s) => (stop = s), (e: unknown) => {
      stopScan();
      card.replaceChildren(announce(t('door.noCamera', { message: e instanceof Error ? e.message : String(e) }), 'alert'));
    });
  } }, t('door.scan'));
  return [h('h2', {}, t('door.title')), form, h('p', {}, scanButton), scanner, card, walkInForm()];
}

/** Camera frames into jsQR until a QR code that reads as a booking reference shows up; answers the stop function. */
async function startScanner(into: HTMLElement, found: (text: string) => void): Promise<() => void> {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  const video = h('video', { autoplay: true, muted: true, playsinline: true, 'aria-label': t('door.scanning') });
  video.srcObject = stream;
  into.replaceChildren(h('p', { role: 'status' }, t('door.scanning')), video);
  await video.play();
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    if (video.videoWidth > 0) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      ctx.drawImage(video, 0, 0);
      const code = jsQR(ctx.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height, { inversionAttempts: 'dontInvert' });
      if (code?.data && parseReference(code.data).ok) {
        found(code.data);
        return;
      }
    }
    setTimeout(tick, 150);
  };
  tick();
  return () => {
    running = false;
    for (const track of stream.getTracks()) track.stop();
  };
}

async function showBooking(card: HTMLElement, reference: string): Promise<void> {
  card.replaceChildren(announce(t('app.loading')));
  try {
    const q = new URLSearchParams({ identifier: `${BOOKING_REFERENCE_SYSTEM}|${reference}`, _include: 'Appointment:patient' });
    q.append('_include', 'Appointment:location');
    const bundle = (await adminCall<Bundle>(`/fhir/Appointment?${q.toString()}`)).body;
    const resources = (bundle.entry ?? []).map((e) => e.resource!);
    const appt = resources.find((r): r is Appointment => r.resourceType === 'Appointment');
    if (!appt) {
      card.replaceChildren(announce(t('door.notFound', { ref: formatReference(reference) }), 'alert'));
      return;
    }
    const patient = resources.find((r): r is Patient => r.resourceType === 'Patient');
    const location = resources.find((r): r is Location => r.resourceType === 'Location');
    const cvx = appt.extension?.find((e) => e.url === EXT_PRODUCT)?.valueCoding;
    const dose = appt.extension?.find((e) => e.url === EXT_DOSE)?.valueInteger;
    const isToday = appt.start ? new Date(appt.start).toDateString() === new Date().toDateString() : false;
    const out = h('div', {});
    const button = h('button', { type: 'button', id: 'door-check-in', disabled: appt.status !== 'booked' }, t('door.checkIn'));
    button.addEventListener('click', () => {
      button.disabled = true;
      adminCall<Appointment>(`/fhir/Appointment/${encodeURIComponent(appt.id!)}/$check-in`, { method: 'POST', body: { resourceType: 'Parameters' }, fhir: true }).then(
        () => out.replaceChildren(h('p', { class: 'ok', role: 'status', id: 'door-done' }, t('door.checkedIn', { name: nameOf(patient) }))),
        (e: unknown) => {
          button.disabled = false;
          out.replaceChildren(failed(e));
        },
      );
    });
    card.replaceChildren(h('div', { class: 'door-card' },
      h('p', { class: 'who', id: 'door-who' }, nameOf(patient)),
      h('dl', { class: 'facts' },
        h('dt', {}, t('desk.born')), h('dd', {}, patient?.birthDate ? formatDate(patient.birthDate) : ''),
        h('dt', {}, t('door.ref')), h('dd', { class: 'mono' }, formatReference(reference)),
        h('dt', {}, t('desk.when')), h('dd', {}, appt.start ? formatDate(appt.start, true) : ''),
        h('dt', {}, t('desk.where')), h('dd', {}, location?.name ?? ''),
        h('dt', {}, t('desk.vaccine')), h('dd', {}, cvx?.code ? (vaccineName(cvx.code) ?? cvx.display ?? `CVX ${cvx.code}`) : ''),
        ...(dose ? [h('dt', {}, t('door.dose')), h('dd', {}, String(dose))] : []),
        h('dt', {}, t('desk.status')), h('dd', { id: 'door-status' }, appt.status)),
      isToday ? null : h('p', { class: 'error' }, t('door.notToday')),
      appt.status === 'booked' ? button : h('p', { class: 'status' }, t('door.state', { status: appt.status })),
      out));
  } catch (e) {
    card.replaceChildren(failed(e));
  }
}

function walkInForm(): HTMLElement {
  const out = h('div', { 'aria-live': 'polite' });
  const value = (id: string): string => ((document.getElementById(id) as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement | null)?.value ?? '').trim();
  const clinics = h('div', { class: 'field' }, announce(t('app.loading')));
  const form = h('form', { id: 'walk-in-form' },
    h('p', { class: 'hint' }, t('door.walkInHint')),
    clinics,
    h('div', { class: 'desk-row' },
      field('walk-family', t('desk.family'), { required: true, autocomplete: 'off' }),
      field('walk-given', t('desk.given'), { required: true, autocomplete: 'off' }),
      field('walk-birth', t('desk.birthDate'), { type: 'date', required: true }),
      field('walk-postal', t('desk.postalCode'), { required: true, autocomplete: 'off', maxlength: '10' })),
    h('div', { class: 'field' }, h('label', { for: 'walk-reason' }, t('desk.reason')), h('textarea', { id: 'walk-reason', required: true, minlength: '8', maxlength: '500' })),
    out,
    h('button', { type: 'submit' }, t('door.walkIn')));
  void adminCall<{ clinics: Array<{ id: string; name: string }> }>('/admin/front-desk/setup').then(({ body }) => clinics.replaceChildren(
    h('label', { for: 'walk-clinic' }, t('desk.clinic')),
    h('select', { id: 'walk-clinic' }, ...body.clinics.map((c) => h('option', { value: c.id }, c.name)))), (e: unknown) => clinics.replaceChildren(failed(e)));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    adminCall<{ checkedIn: Appointment }>('/admin/front-desk/walk-ins', { body: {
      locationId: value('walk-clinic'), reason: value('walk-reason'),
      person: { name: { family: value('walk-family'), given: value('walk-given') }, birthDate: value('walk-birth'), postalCode: value('walk-postal'), confirmationBy: 'clinic' },
    } }).then(({ body }) => {
      const ref = body.checkedIn.identifier?.find((i) => i.system === BOOKING_REFERENCE_SYSTEM)?.value ?? body.checkedIn.id!;
      out.replaceChildren(h('p', { class: 'ok', role: 'status', id: 'walk-in-done' }, t('door.walkInDone', { name: `${value('walk-given')} ${value('walk-family')}`, ref: formatReference(ref) })));
    }, (e: unknown) => out.replaceChildren(failed(e)));
  });
  return h('section', {}, h('h2', {}, t('door.walkInTitle')), form);
}
