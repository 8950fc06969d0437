/**
 * #people (issue 21): find a person from one search box, open their file (registrations, invitations,
 * appointments with their booking references, doses, and whether a booking now keeps to the fairness rules),
 * register someone with no email or phone, book or move an appointment for them over the phone (a reason when it
 * is outside the rules), cancel, and hand over the confirmation: printed, as a letter, or by SMS; and the invitations
 * of people drawn who have no email or mobile, to post or hand over (letters-view.ts).
 */
import { HubError } from '../shared/api.js';
import { announce, field, h } from '../shared/dom.js';
import { formatDate, t, type MessageKey } from '../shared/i18n.js';
import { adminCall } from './api.js';
import { printConfirmation } from './desk-print.js';
import { correctDoseDialog, withdrawDoseDialog } from './dose-fix.js';
import { invitationLettersSection } from './letters-view.js';
import { failed, table } from './ui.js';

interface Setup {
  clinics: Array<{ id: string; name: string }>;
  products: Array<{ cvx: string; name: string }>;
  occupations: Record<string, string>;
  smsAvailable: boolean;
}
interface Match { patientId: string; name: string; birthDate?: string; phone?: string; email?: string; address?: string; matchedBy: string[] }
interface AppointmentLine { id: string; reference: string; status: string; start?: string; locationName?: string; productName?: string; doseNumber?: number }
interface PersonFile {
  patient: { id: string; birthDate?: string; name?: Array<{ given?: string[]; family?: string }>; telecom?: Array<{ system?: string; value?: string }> };
  registrations: Array<{ id: string; number: string; status: string; tierDisplay: string; createdAt: string; confirmationBy: string | null }>;
  invitations: Array<{ ref: string; status: string; expiresAt: string }>;
  appointments: AppointmentLine[];
  doses: Array<{ id: string; date?: string; vaccine: string; lot?: string; status: string; correctable: boolean }>;
  standing: { withinRules: boolean; problems: Array<{ code: string; text: string }> };
}

let setupCache: Promise<Setup> | undefined;
const setup = (): Promise<Setup> => (setupCache ??= adminCall<Setup>('/admin/front-desk/setup').then((r) => r.body, (e: unknown) => {
  setupCache = undefined;
  throw e;
}));

const nameOf = (p: PersonFile['patient']): string => [...(p.name?.[0]?.given ?? []), p.name?.[0]?.family].filter(Boolean).join(' ');
const value = (form: HTMLElement, id: string): string => ((form.querySelector(`#${id}`) as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement | null)?.value ?? '').trim();
const when = (iso: string | undefined): string => (iso ? formatDate(iso, true) : '');
const today = (): string => new Date(Date.now() - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 10);

function select(id: string, label: string, options: Array<[string, string]>, attrs: Record<string, string | boolean> = {}): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: id }, label),
    h('select', { id, name: id, ...attrs }, ...options.map(([v, text]) => h('option', { value: v }, text))));
}

/** The page: search box, results, and the opened person's file below. */
export function peopleView(): Node[] {
  const results = h('div', { id: 'people-results' });
  const file = h('section', { id: 'person-file', 'aria-live': 'polite' });
  const search = h('form', { id: 'people-search', role: 'search', class: 'desk-row' },
    field('people-q', t('desk.find'), { type: 'search', required: true, autocomplete: 'off', maxlength: '200' }, t('desk.findHint')),
    h('button', { type: 'submit' }, t('desk.search')));
  const open = (patientId: string, note?: string): void => void showFile(file, patientId, note);
  search.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = value(search, 'people-q');
    results.replaceChildren(announce(t('app.loading')));
    adminCall<{ matches: Match[] }>(`/admin/front-desk/people?q=${encodeURIComponent(q)}`).then(({ body }) => {
      results.replaceChildren(body.matches.length
        ? table('people-table', t('desk.results'), [{ label: t('desk.name') }, { label: t('desk.born') }, { label: t('desk.contact') }, { label: t('desk.address') }, { label: t('desk.matchedBy') }],
          body.matches.map((m) => [
            h('button', { type: 'button', class: 'secondary', 'data-patient': m.patientId, onclick: () => open(m.patientId) }, m.name),
            m.birthDate ? formatDate(m.birthDate) : '', [m.phone, m.email].filter(Boolean).join(', '), m.address ?? '', m.matchedBy.join(', '),
          ]))
        : announce(t('desk.noResults')));
    }, (e: unknown) => results.replaceChildren(failed(e)));
  });
  return [h('h2', {}, t('desk.findTitle')), search, results, file, invitationLettersSection((id) => open(id)), registerForm(open)];
}

function registerForm(open: (patientId: string, note?: string) => void): HTMLElement {
  const out = h('div', {});
  const channels: Array<[string, string]> = (['post', 'clinic', 'sms', 'email'] as const).map((c) => [c, t(`desk.by.${c}` as MessageKey)]);
  const form = h('form', { id: 'register-form' },
    h('div', { class: 'desk-row' },
      field('reg-family', t('desk.family'), { required: true, autocomplete: 'off' }),
      field('reg-given', t('desk.given'), { required: true, autocomplete: 'off' }),
      field('reg-birth', t('desk.birthDate'), { type: 'date', required: true })),
    h('div', { class: 'desk-row' },
      field('reg-email', t('desk.email'), { type: 'email', autocomplete: 'off' }),
      field('reg-phone', t('desk.phone'), { type: 'tel', autocomplete: 'off' })),
    select('reg-confirm', t('desk.confirmBy'), channels),
    h('div', { class: 'desk-row' },
      field('reg-line', t('desk.line'), { autocomplete: 'off' }),
      field('reg-city', t('desk.city'), { autocomplete: 'off' }),
      field('reg-state', t('desk.state'), { autocomplete: 'off', maxlength: '20' }),
      field('reg-postal', t('desk.postalCode'), { required: true, autocomplete: 'off', maxlength: '10' })),
    h('div', { id: 'reg-occupation-box' }),
    out,
    h('button', { type: 'submit' }, t('desk.register')));
  void setup().then((s) => form.querySelector('#reg-occupation-box')!.replaceChildren(
    select('reg-occupation', t('desk.occupation'), [['', '—'], ...Object.entries(s.occupations)])), () => undefined);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = {
      name: { family: value(form, 'reg-family'), given: value(form, 'reg-given') },
      birthDate: value(form, 'reg-birth'),
      ...(value(form, 'reg-email') ? { email: value(form, 'reg-email') } : {}),
      ...(value(form, 'reg-phone') ? { phone: value(form, 'reg-phone') } : {}),
      postalCode: value(form, 'reg-postal'),
      confirmationBy: value(form, 'reg-confirm'),
      address: { line: value(form, 'reg-line') ? [value(form, 'reg-line')] : [], city: value(form, 'reg-city'), state: value(form, 'reg-state') },
      answers: value(form, 'reg-occupation') ? { occupation: value(form, 'reg-occupation') } : {},
    };
    adminCall<{ patientId: string; existing: boolean }>('/admin/front-desk/people', { body }).then(
      ({ body: r }) => {
        out.replaceChildren();
        form.reset();
        open(r.patientId, t(r.existing ? 'desk.alreadyRegistered' : 'desk.registered'));
      },
      (e: unknown) => out.replaceChildren(e instanceof HubError && e.issues.length > 1 ? h('ul', { class: 'error', role: 'alert' }, ...e.issues.map((i) => h('li', {}, i.message))) : failed(e)),
    );
  });
  return h('section', {}, h('h2', {}, t('desk.registerTitle')), form);
}

async function showFile(into: HTMLElement, patientId: string, note?: string): Promise<void> {
  into.replaceChildren(announce(t('app.loading')));
  try {
    const f = (await adminCall<PersonFile>(`/admin/front-desk/people/${encodeURIComponent(patientId)}`)).body;
    const status = h('div', { id: 'desk-status' }, note ? announce(note) : null);
    const refresh = (message?: string): void => void showFile(into, patientId, message);
    const phone = f.patient.telecom?.find((x) => x.system === 'phone' || x.system === 'sms')?.value ?? '';
    into.replaceChildren(
      h('h2', { id: 'person-title', tabindex: '-1' }, t('desk.fileTitle', { name: nameOf(f.patient), date: f.patient.birthDate ? formatDate(f.patient.birthDate) : '?' })),
      status,
      f.standing.withinRules
        ? h('p', { class: 'ok', id: 'standing' }, t('desk.standingOk'))
        : h('div', { id: 'standing' }, h('p', { class: 'error' }, t('desk.standingOut')), h('ul', {}, ...f.standing.problems.map((p) => h('li', {}, p.text)))),
      table('appointments-table', t('desk.appointments'), [{ label: t('desk.ref') }, { label: t('desk.when') }, { label: t('desk.where') }, { label: t('desk.vaccine') }, { label: t('desk.status') }, { label: t('desk.actions') }],
        f.appointments.map((a) => [h('span', { class: 'mono' }, a.reference), when(a.start), a.locationName ?? '', a.productName ?? '', a.status, appointmentActions(a, phone, status, refresh, f, into)])),
      bookForm(f, null, refresh),
      table('registrations-table', t('desk.registrations'), [{ label: t('desk.regNumber') }, { label: t('desk.status') }, { label: 'Tier' }, { label: t('desk.confirmBy') }],
        f.registrations.map((r) => [h('span', { class: 'mono' }, r.number), r.status, r.tierDisplay, r.confirmationBy ? t(`desk.by.${r.confirmationBy}` as MessageKey) : ''])),
      table('invitations-table', t('desk.invitations'), [{ label: t('desk.status') }, { label: t('desk.when') }],
        f.invitations.map((i) => [i.status, when(i.expiresAt)])),
      table('doses-table', t('desk.doses'), [{ label: t('desk.when') }, { label: t('desk.vaccine') }, { label: 'Lot' }, { label: t('desk.status') }, { label: t('desk.actions') }],
        f.doses.map((d) => [d.date ? formatDate(d.date) : '', d.vaccine, d.lot ?? '', d.status, doseActions(d, nameOf(f.patient), status, refresh)])),
    );
    (document.getElementById('person-title') as HTMLElement | null)?.focus();
  } catch (e) {
    into.replaceChildren(failed(e));
  }
}

/** Correct or withdraw a dose given here (issue 21): dialogs asking the reason, through $correct / $entered-in-error. */
function doseActions(d: PersonFile['doses'][number], who: string, status: HTMLElement, refresh: (m?: string) => void): Node {
  if (!d.correctable) return document.createTextNode('');
  const label = `${d.vaccine}${d.date ? `, ${formatDate(d.date)}` : ''}`;
  return h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'secondary correct', 'aria-label': `${t('fix.correct')}: ${label}`, onclick: () => {
      correctDoseDialog(d.id, who, refresh).catch((e: unknown) => status.replaceChildren(failed(e)));
    } }, t('fix.correct')),
    h('button', { type: 'button', class: 'danger in-error', 'aria-label': `${t('clinic.inError')}: ${label}`, onclick: () => withdrawDoseDialog(d.id, who, refresh) }, t('clinic.inError')));
}

function appointmentActions(a: AppointmentLine, phone: string, status: HTMLElement, refresh: (m?: string) => void, f: PersonFile, into: HTMLElement): Node {
  if (a.status !== 'booked' && a.status !== 'checked-in') return document.createTextNode('');
  const fail = (e: unknown): void => void status.replaceChildren(failed(e));
  const box = h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'secondary print', onclick: () => void printConfirmation(a.id, false).catch(fail) }, t('desk.print')),
    h('button', { type: 'button', class: 'secondary letter', onclick: () => void printConfirmation(a.id, true).catch(fail) }, t('desk.letter')),
    h('button', { type: 'button', class: 'secondary sms', onclick: () => {
      const to = window.prompt(t('desk.smsTo'), phone);
      if (!to) return;
      adminCall<{ to: string }>(`/admin/front-desk/bookings/${encodeURIComponent(a.id)}/confirmation`, { body: { channel: 'sms', to } })
        .then(({ body }) => status.replaceChildren(announce(t('desk.smsSent', { to: body.to }))), fail);
    } }, t('desk.sms')));
  if (a.status === 'booked') {
    box.append(
      h('button', { type: 'button', class: 'secondary move', onclick: () => {
        into.querySelector('#book-form')?.replaceWith(bookForm(f, a, refresh));
        (into.querySelector('#book-title') as HTMLElement | null)?.focus();
      } }, t('desk.reschedule')),
      h('button', { type: 'button', class: 'danger cancel', onclick: () => {
        adminCall(`/admin/front-desk/bookings/${encodeURIComponent(a.id)}/cancel`, { body: { reason: 'cancelled at the desk or on the phone' } })
          .then(() => refresh(t('desk.cancelled')), fail);
      } }, t('desk.cancel')));
  }
  return box;
}

/** Book (or move `moving`) over the phone: clinic, day, vaccine, then a free time; a reason when outside the rules. */
function bookForm(f: PersonFile, moving: AppointmentLine | null, refresh: (m?: string) => void): HTMLElement {
  const times = h('div', { id: 'book-times' });
  const out = h('div', {});
  const needReason = !moving && !f.standing.withinRules;
  const form = h('form', { id: 'book-form' },
    h('h3', { id: 'book-title', tabindex: '-1' }, moving ? t('desk.moveTitle', { ref: moving.reference }) : t('desk.bookTitle')),
    h('div', { class: 'desk-row', id: 'book-choices' }, announce(t('app.loading'))),
    needReason ? h('div', { class: 'field' }, h('label', { for: 'book-reason' }, t('desk.reason')), h('textarea', { id: 'book-reason', maxlength: '500', 'aria-required': 'true', oninput: (e) => (e.target as HTMLTextAreaElement).setCustomValidity('') })) : null,
    times, out);
  void setup().then((s) => {
    const row = form.querySelector('#book-choices')!;
    row.replaceChildren(
      select('book-clinic', t('desk.clinic'), s.clinics.map((c) => [c.id, c.name])),
      field('book-date', t('desk.date'), { type: 'date', required: true, value: moving?.start?.slice(0, 10) ?? today() }),
      select('book-product', t('desk.product'), [['', t('desk.anyProduct')], ...s.products.map((p): [string, string] => [p.cvx, p.name])]),
      h('button', { type: 'submit', class: 'secondary' }, t('desk.showTimes')));
  }, (e: unknown) => form.querySelector('#book-choices')!.replaceChildren(failed(e)));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams({ locationId: value(form, 'book-clinic'), date: value(form, 'book-date') });
    if (value(form, 'book-product')) q.set('productCvx', value(form, 'book-product'));
    times.replaceChildren(announce(t('app.loading')));
    adminCall<{ slots: Array<{ id: string; start: string; productName: string; free: number }> }>(`/admin/front-desk/slots?${q.toString()}`).then(({ body }) => {
      times.replaceChildren(body.slots.length
        ? h('ul', { class: 'times' }, ...body.slots.map((s) => h('li', {}, h('button', { type: 'button', class: 'slot', 'data-slot': s.id, onclick: () => {
          const reason = needReason ? value(form, 'book-reason') : '';
          if (needReason && reason.length < 8) {
            // Asked for when a time is chosen (not by the times search, which the form's submit is).
            const box = form.querySelector('#book-reason') as HTMLTextAreaElement;
            box.setCustomValidity(t('desk.reason'));
            box.reportValidity();
            return;
          }
          adminCall<{ appointment: { id: string; identifier?: Array<{ value?: string }> } }>('/admin/front-desk/bookings', {
            body: { patientId: f.patient.id, slotId: s.id, ...(moving ? { rescheduleOf: moving.id } : {}), ...(reason ? { reason } : {}) },
          }).then(({ body: b }) => {
            const ref = b.appointment.identifier?.[0]?.value ?? b.appointment.id;
            refresh(t('desk.booked', { ref: ref.length === 8 ? `${ref.slice(0, 4)}-${ref.slice(4)}` : ref }));
          }, (e: unknown) => out.replaceChildren(failed(e)));
        } }, t('desk.time', { time: formatDate(s.start, true), product: s.productName, free: s.free })))))
        : announce(t('desk.noTimes')));
    }, (e: unknown) => times.replaceChildren(failed(e)));
  });
  return form;
}
