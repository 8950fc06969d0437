/**
 * #offer/<token> (issue 21): the page a closure message links to. The person's appointment was cancelled because
 * the clinic closed that day; a later place is held for them first. Here they keep it (it becomes their booking,
 * with its reference and QR code), choose another time (the held place goes back), or say they no longer need a
 * place. The token in the link is their only credential (src/clinic/rebooking-routes.ts).
 */
import { call } from '../shared/api.js';
import { referenceQr } from '../shared/booking-ref.js';
import { announce, h } from '../shared/dom.js';
import { vaccineName } from '../shared/fhir-text.js';
import { formatDate, t } from '../shared/i18n.js';
import { errorText, type AppContext } from './context.js';

interface Summary { appointmentId: string; start: string; timeZone: string; clinic: string; address?: string; productCvx?: string; reference?: string }
interface OfferView {
  state: 'held' | 'booked' | 'declined' | 'expired';
  expiresAt: string;
  cancelled?: Summary;
  held?: Summary;
  booked?: Summary;
  canChoose: boolean;
  alternatives: Array<{ slotId: string; start: string; timeZone: string; clinic: string }>;
}

function facts(id: string, s: Summary): HTMLElement {
  const vaccine = s.productCvx ? (vaccineName(s.productCvx) ?? `CVX ${s.productCvx}`) : '';
  return h('dl', { class: 'facts', id },
    h('dt', {}, t('appt.when')), h('dd', { class: 'when' }, formatDate(s.start, true, s.timeZone)),
    h('dt', {}, t('appt.where')), h('dd', {}, [s.clinic, s.address].filter(Boolean).join(', ')),
    ...(vaccine ? [h('dt', {}, t('appt.vaccine')), h('dd', {}, vaccine)] : []),
    ...(s.reference ? [h('dt', {}, t('appt.ref')), h('dd', { class: 'ref' }, s.reference)] : []));
}

export function offerView(app: AppContext, token: string): Node[] {
  const base = `${app.hub}/signup/rebooking/${encodeURIComponent(token)}`;
  const area = h('div', { id: 'offer-area' }, announce(t('app.loading')));
  const notice = h('div', { id: 'offer-notice' });

  const act = (button: HTMLButtonElement, path: string, body?: unknown): void => {
    button.disabled = true;
    call<OfferView>(`${base}/${path}`, { method: 'POST', ...(body ? { body } : {}) }).then(
      (r) => {
        notice.replaceChildren();
        draw(r.body);
        (document.getElementById('offer-state') as HTMLElement | null)?.focus();
      },
      (e: unknown) => {
        button.disabled = false;
        notice.replaceChildren(announce(errorText(e), 'alert'));
      },
    );
  };

  const others = (v: OfferView): HTMLElement => {
    const box = h('section', { id: 'offer-others', 'aria-labelledby': 'offer-others-title' },
      h('h3', { id: 'offer-others-title', tabindex: '-1' }, t('offer.otherTitle')),
      v.alternatives.length
        ? h('div', {}, h('p', { class: 'hint' }, t('offer.otherHint')),
          h('ul', { class: 'times' }, ...v.alternatives.map((a) => h('li', {},
            h('button', { type: 'button', class: 'slot secondary', 'data-slot': a.slotId, onclick: (ev: Event) => act(ev.currentTarget as HTMLButtonElement, 'choose', { slotId: a.slotId }) },
              t('offer.slot', { time: formatDate(a.start, true, a.timeZone), clinic: a.clinic }))))))
        : h('p', {}, t('offer.noOther')));
    return box;
  };

  const draw = (v: OfferView): void => {
    const out: Node[] = [];
    if (v.cancelled) out.push(h('h3', {}, t('offer.cancelled')), facts('offer-cancelled', v.cancelled));
    if (v.state === 'held' && v.held) {
      const otherButton = h('button', { type: 'button', id: 'offer-choose', class: 'secondary' }, t('offer.other'));
      const confirmBox = h('div', { class: 'confirm', id: 'offer-decline-confirm', hidden: true },
        h('p', { role: 'alert' }, t('offer.declineConfirm')),
        h('button', { type: 'button', class: 'danger', id: 'offer-decline-yes', onclick: (ev: Event) => act(ev.currentTarget as HTMLButtonElement, 'decline') }, t('offer.declineYes')),
        h('button', { type: 'button', class: 'secondary', onclick: () => (confirmBox.hidden = true) }, t('offer.declineNo')));
      const othersSlot = h('div', {});
      otherButton.addEventListener('click', () => {
        othersSlot.replaceChildren(others(v));
        (document.getElementById('offer-others-title') as HTMLElement | null)?.focus();
      });
      out.push(
        h('h3', { id: 'offer-state', tabindex: '-1' }, t('offer.heldTitle')),
        facts('offer-held', v.held),
        h('p', {}, t('offer.heldUntil', { time: formatDate(v.expiresAt, true, v.held.timeZone) })),
        h('p', { class: 'actions' },
          h('button', { type: 'button', id: 'offer-keep', onclick: (ev: Event) => act(ev.currentTarget as HTMLButtonElement, 'accept') }, t('offer.keep')),
          otherButton,
          h('button', { type: 'button', id: 'offer-decline', class: 'danger', onclick: () => {
            confirmBox.hidden = false;
            (document.getElementById('offer-decline-yes') as HTMLElement | null)?.focus();
          } }, t('offer.decline'))),
        confirmBox, othersSlot);
    } else if (v.state === 'booked' && v.booked) {
      out.push(h('h3', { id: 'offer-state', tabindex: '-1' }, t('offer.bookedTitle')), announce(t('offer.booked')), facts('offer-booked', v.booked),
        ...[referenceQr(v.booked.reference)].filter((x): x is HTMLElement => !!x));
    } else if (v.state === 'declined') {
      out.push(h('p', { id: 'offer-state', tabindex: '-1' }, t('offer.declined')));
    } else {
      out.push(h('p', { id: 'offer-state', tabindex: '-1' }, t('offer.expired')));
      if (v.canChoose) {
        out.push(h('p', {}, t('offer.expiredChoose', { date: formatDate(new Date(new Date(v.expiresAt).getTime() + 14 * 86_400_000).toISOString()) })), others(v));
      }
    }
    out.push(h('p', { class: 'hint' }, t('offer.callClinic')));
    area.replaceChildren(...out);
  };

  call<OfferView>(base).then((r) => draw(r.body), (e: unknown) => area.replaceChildren(announce(errorText(e), 'alert')));
  return [h('h2', { id: 'offer-title' }, t('offer.title')), notice, area];
}
