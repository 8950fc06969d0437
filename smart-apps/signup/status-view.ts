/**
 * The person's status (GET /signup/status): registered / invited (until when) / booked, the priority tier, and the
 * family members they registered. Without a saved registration on this device, a lookup by registration number
 * and date of birth.
 */
import { parseRegistrationNumber } from '../../src/scheduling/booking-reference.js';
import { call } from '../shared/api.js';
import { announce, field, h } from '../shared/dom.js';
import { formatDate, t, tOr } from '../shared/i18n.js';
import { errorText, type AppContext } from './context.js';
import { liveClaim, load } from './state.js';

export interface StatusAnswer {
  registrantId: string;
  /** What the person is shown and types (`R-ABCD-EFGH`); the id stays internal. */
  registrationNumber: string;
  status: 'registered' | 'invited' | 'booked';
  tier: string | null;
  tierDisplay: string;
  invitationExpiresAt?: string;
  family?: StatusAnswer[];
}

function statusText(app: AppContext, s: StatusAnswer): string {
  if (s.status === 'booked') return t('status.booked');
  if (s.status === 'invited') return t('status.invited', { date: formatDate(s.invitationExpiresAt, true, app.cfg.timeZone) });
  return t('status.registered');
}

function tierText(app: AppContext, s: StatusAnswer): string {
  return s.tier ? t('status.tier', { tier: tOr(`tier.${s.tier}`, app.cfg.tiers[s.tier] ?? s.tierDisplay) }) : t('status.noTier');
}

function card(app: AppContext, s: StatusAnswer, heading: 'h3' | 'h4'): HTMLElement {
  return h('div', { class: 'status-card' },
    h(heading, {}, h('span', { class: `badge state-${s.status}` }, statusText(app, s))),
    h('p', {}, tierText(app, s)),
    // What a "Phase 1c" is and what happens next, so nobody has to call to ask (issue 22, item 7).
    s.tier ? h('p', { class: 'hint tier-explained' }, t('status.tierExplained')) : null,
    s.status === 'registered' ? h('p', { class: 'next-steps' }, h('strong', {}, t('status.nextTitle')), ' ', t('status.next')) : null,
    h('p', { class: 'hint' }, t('reg.yourId', { id: s.registrationNumber })),
  );
}

function render(app: AppContext, s: StatusAnswer): Node[] {
  return [
    h('div', { id: 'status' }, card(app, s, 'h3')),
    s.status === 'booked' && load('booking') ? h('p', {}, h('a', { href: '#booked' }, t('booked.title'))) : null,
    s.status === 'invited' && liveClaim() ? h('p', {}, h('a', { href: '#waiting', class: 'button' }, t('signup.continueBooking'))) : null,
    s.status === 'invited' && !liveClaim() ? h('p', {}, t('signup.haveInvitation')) : null,
    s.family?.length
      ? h('section', { 'aria-labelledby': 'family-title' }, h('h3', { id: 'family-title' }, t('status.family')),
        h('ul', { class: 'records', id: 'family' }, ...s.family.map((f) => h('li', {}, card(app, f, 'h4')))))
      : null,
    h('p', {},
      h('a', { href: '#family', class: 'button secondary' }, t('status.addFamily')),
      h('button', { type: 'button', class: 'secondary', onclick: () => app.redraw() }, t('status.refresh'))),
  ].filter((x): x is HTMLElement => !!x);
}

function lookupForm(app: AppContext, out: HTMLElement): HTMLElement {
  const form = h('form', { id: 'lookup-form' },
    field('lookup-id', t('status.registrantId'), { required: true, autocomplete: 'off' }, t('status.numberHint')),
    field('lookup-birth', t('reg.birthDate'), { type: 'date', required: true }),
    h('button', { type: 'submit' }, t('status.check')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = (document.getElementById('lookup-id') as HTMLInputElement).value.trim();
    // A typo is said here, before asking the hub (which refuses it too): the check character catches it. A number
    // from an old mail (the registration's id) is still accepted.
    const parsed = parseRegistrationNumber(id, { prefixOptional: true });
    if (!parsed.ok && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
      const cleaned = id.toUpperCase().replace(/[\s\-_.]/g, '');
      const message = parsed.problem === 'length' ? t('status.numberLength', { n: String(cleaned.length) })
        : parsed.problem === 'character' ? t('status.numberChar', { c: /'(.)'/.exec(parsed.detail)?.[1] ?? '' })
          : t('status.numberTypo');
      out.replaceChildren(announce(message, 'alert'));
      return;
    }
    const birth = (document.getElementById('lookup-birth') as HTMLInputElement).value;
    const q = new URLSearchParams({ registrant: id, birthDate: birth });
    call<StatusAnswer>(`${app.hub}/signup/status?${q}`).then(
      (r) => out.replaceChildren(...render(app, r.body)),
      (e: unknown) => out.replaceChildren(announce((e as { status?: number }).status === 404 ? t('status.notFound') : errorText(e), 'alert')),
    );
  });
  return form;
}

export function statusView(app: AppContext): Node[] {
  const me = load('registrant');
  const out = h('div', { id: 'status-area' }, me ? announce(t('app.loading')) : null);
  if (me) {
    call<StatusAnswer>(`${app.hub}/signup/status`, { headers: { 'X-Registrant-Token': me.statusToken } }).then(
      (r) => out.replaceChildren(...render(app, r.body)),
      (e: unknown) => out.replaceChildren(announce(errorText(e), 'alert')),
    );
  }
  return [
    h('h2', {}, t('status.title')),
    out,
    h('h3', {}, t('status.lookup')),
    lookupForm(app, out),
  ];
}
