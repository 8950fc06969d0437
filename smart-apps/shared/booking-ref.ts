/**
 * The booking reference as people see it (issue 21): `ABCD-EFGH` from the Appointment's identifier, and its QR code,
 * which the clinic's check-in page scans at the door.
 */
import type { Appointment } from 'fhir/r4';
import QRCode from 'qrcode';
import { formatReference, referenceOfAppointment } from '../../src/scheduling/booking-reference.js';
import { h } from './dom.js';
import { t } from './i18n.js';

/** The short reference, or the id for a booking made before references existed. */
export function shownReference(a: Appointment): string {
  const ref = referenceOfAppointment(a);
  return ref ? formatReference(ref) : (a.id ?? '');
}

/** An SVG QR code of a reference (SVG markup parsed, never run: it holds no script). */
export function qrElement(svgMarkup: string, label: string): HTMLElement {
  const svg = new DOMParser().parseFromString(svgMarkup, 'image/svg+xml').documentElement;
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  return h('div', { class: 'booking-qr' }, document.importNode(svg, true));
}

/**
 * The confirmation's QR code of the reference (nothing for an old booking without one). `id`: the booked page's one
 * code is `#booking-qr`; 'My booking' lists several and gives none.
 */
export function referenceQr(reference: string | undefined, id: string | null = 'booking-qr'): HTMLElement | null {
  if (!reference || reference.length !== 9) return null;
  const box = h('figure', { ...(id ? { id } : {}), class: 'booking-qr-figure', 'data-reference': reference }, h('figcaption', {}, t('appt.qrHint')));
  void QRCode.toString(reference, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }).then((svg) => box.prepend(qrElement(svg, t('appt.qrLabel', { ref: reference }))));
  return box;
}
