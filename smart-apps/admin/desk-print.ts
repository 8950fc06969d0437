/**
 * The printed confirmation (issue 21): handed over at the desk or posted as a letter, with the person's address for
 * a window envelope, the appointment in their language, the booking reference and its QR code. The print stylesheet
 * (app.css, @media print) prints only this, on a clean A4/Letter page.
 */
import { h } from '../shared/dom.js';
import { qrElement } from '../shared/booking-ref.js';
import { t } from '../shared/i18n.js';
import { adminCall } from './api.js';

export interface PrintableConfirmation {
  appointmentId: string;
  reference: string;
  qrSvg: string;
  language: string;
  person: { name: string; birthDate?: string; addressLines: string[] };
  lines: string[];
  title: string;
  bring: string;
}

/** Fetches the confirmation, puts it on the page as the printable sheet and opens the browser's print dialog. */
export async function printConfirmation(appointmentId: string, asLetter: boolean): Promise<HTMLElement> {
  const c = (await adminCall<PrintableConfirmation>(`/admin/front-desk/bookings/${encodeURIComponent(appointmentId)}/confirmation`)).body;
  document.getElementById('print-sheet')?.remove();
  const sheet = h('article', { id: 'print-sheet', class: asLetter ? 'print-sheet letter' : 'print-sheet', lang: c.language },
    asLetter ? h('address', { class: 'recipient' }, ...[c.person.name, ...c.person.addressLines].flatMap((l, i) => (i ? [h('br'), l] : [l]))) : h('p', { class: 'recipient' }, c.person.name),
    h('h2', {}, c.title),
    h('ul', { class: 'confirmation-lines' }, ...c.lines.map((l) => h('li', {}, l))),
    h('p', { class: 'print-ref' }, c.reference),
    qrElement(c.qrSvg, t('appt.qrLabel', { ref: c.reference })),
    h('p', {}, t('appt.qrHint')),
    h('p', {}, c.bring));
  document.body.append(sheet);
  // Only while this sheet prints does the print stylesheet hide the rest (the clinic day prints its own page).
  document.body.classList.add('printing-sheet');
  window.addEventListener('afterprint', () => document.body.classList.remove('printing-sheet'), { once: true });
  window.print();
  return sheet;
}
