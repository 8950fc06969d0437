/**
 * The clinic's check-out (GET /clinic/observation): everyone who had a dose, in the order they may leave, with the
 * minutes left, why their wait is what it is, and who is overdue for a look (highlighted). Per person: "Looked: all
 * well", "Checked out", and the two-tap reaction: "Reaction…" shows the symptoms seen within minutes of a dose
 * (immediate ones first), and one tap on a symptom records it (POST .../reaction -> an AdverseEvent). The list is
 * refreshed every 15 s and the minutes recounted every second from the hub's clock.
 */
import { announce, h } from '../shared/dom.js';
import { t, tOr } from '../shared/i18n.js';
import { SYMPTOMS, symptomText } from '../shared/symptoms.js';
import { adminCall } from './api.js';
import { productLabel } from './supply-view.js';
import { failed, table } from './ui.js';

interface Waiting {
  immunizationId: string; patientId: string; locationId: string; name: string; birthDate: string | null; productCvx: string | null; productName: string | null;
  startedAt: string; minutes: number; mayLeaveAt: string; reasons: string[]; status: 'waiting' | 'may-leave' | 'reaction'; minutesLeft: number;
  lastLookAt: string | null; lookDueAt: string; overdueForLook: boolean; adverseEventIds: string[];
}

const REFRESH_MS = 15_000;
/** Reactions seen in the minutes after a dose come first; the rest follow. */
const CHOICES = [...SYMPTOMS.filter((s) => s.immediate), ...SYMPTOMS.filter((s) => !s.immediate && s.code !== 'other')];

const clock = (iso: string): string => new Intl.DateTimeFormat(document.documentElement.lang || 'en', { timeStyle: 'short' }).format(new Date(iso));

export function checkoutView(onLeave: (fn: () => void) => void): Node[] {
  const status = h('div', { id: 'checkout-status', 'aria-live': 'polite' });
  const area = h('div', { id: 'checkout' });
  const intro = h('p', {}, '');
  const picker = h('select', { id: 'checkout-location', onchange: () => void refresh() }, h('option', { value: '' }, t('checkout.allLocations')));
  let open: string | undefined; // the row whose symptom choices are shown (first tap)
  let people: Waiting[] = [];
  let skew = 0; // hub clock - this clock, so "minutes left" counts on the hub's time

  const act = async (path: string, body?: unknown): Promise<unknown> => (await adminCall(path, { method: 'POST', ...(body ? { body } : {}) })).body;

  function row(p: Waiting): Array<Node | string> {
    const left = Math.max(0, Math.ceil((Date.parse(p.mayLeaveAt) - (Date.now() + skew)) / 60_000));
    const state = p.status === 'reaction' ? t('checkout.reaction') : left === 0 ? t('checkout.mayLeaveNow') : t('checkout.waiting', { n: left });
    const overdue = Date.now() + skew >= Date.parse(p.lookDueAt);
    const why = p.reasons.map((r) => tOr(`checkout.why.${r}`, r)).join(', ');
    const label = p.name || p.patientId;
    const actions = h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', 'data-act': 'look', onclick: () => void act(`/clinic/observation/${p.immunizationId}/look`).then(refresh, show) }, t('checkout.looked')),
      h('button', { type: 'button', class: 'secondary', 'data-act': 'check-out', onclick: () => void act(`/clinic/observation/${p.immunizationId}/check-out`).then(refresh, show) }, t('checkout.checkOut')),
      h('button', { type: 'button', 'data-act': 'reaction', 'aria-expanded': open === p.immunizationId ? 'true' : 'false', onclick: () => { open = open === p.immunizationId ? undefined : p.immunizationId; draw(); } }, t('checkout.reactionButton')));
    if (open === p.immunizationId) {
      actions.append(h('fieldset', { class: 'symptoms' }, h('legend', {}, t('checkout.whichReaction')),
        ...CHOICES.map((s) => h('button', { type: 'button', class: s.alarming ? 'danger' : 'secondary', 'data-symptom': s.code, onclick: () => {
          open = undefined;
          void act(`/clinic/observation/${p.immunizationId}/reaction`, { symptom: s.code }).then(() => {
            status.replaceChildren(announce(t('checkout.recorded', { name: label })));
            return refresh();
          }, show);
        } }, symptomText(s)))));
    }
    return [
      h('span', { class: overdue ? 'overdue' : undefined }, label, overdue ? h('strong', { class: 'badge' }, ` ${t('checkout.lookOverdue')}`) : h('small', {}, ` ${t('checkout.lookDue', { time: clock(p.lookDueAt) })}`)),
      p.productCvx ? productLabel(p.productCvx, p.productName ?? '') : '',
      clock(p.mayLeaveAt),
      t('checkout.minutesLong', { n: p.minutes, why }),
      state,
      actions,
    ];
  }

  function draw(): void {
    area.replaceChildren(table('checkout-table', t('checkout.title'), [
      { label: t('checkout.person') }, { label: t('checkout.product') }, { label: t('checkout.mayLeave') }, { label: t('checkout.minutes') }, { label: t('checkout.status') }, { label: t('checkout.actions') },
    ], people.map(row)));
    for (const [i, p] of people.entries()) {
      const tr = area.querySelectorAll('tbody tr')[i];
      tr?.setAttribute('data-immunization', p.immunizationId);
      if (p.status === 'reaction') tr?.classList.add('reaction');
    }
  }

  function show(e: unknown): void {
    status.replaceChildren(failed(e));
  }

  async function refresh(): Promise<void> {
    const loc = picker.value;
    try {
      const r = (await adminCall<{ now: string; lookEveryMinutes: number; people: Waiting[] }>(`/clinic/observation${loc ? `?location=${encodeURIComponent(loc)}` : ''}`)).body;
      skew = Date.parse(r.now) - Date.now();
      people = r.people;
      intro.textContent = t('checkout.intro', { n: r.lookEveryMinutes });
      draw();
    } catch (e) {
      show(e);
    }
  }

  void adminCall<{ entry?: Array<{ resource: { id: string; name?: string } }> }>('/fhir/Location?_count=200&_elements=name').then((r) => {
    for (const e of r.body.entry ?? []) picker.append(h('option', { value: e.resource.id }, e.resource.name ?? e.resource.id));
  }, () => undefined);
  void refresh();
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  // Recount the minutes, but never under someone's hand: a redraw would take the keyboard focus away.
  const tick = setInterval(() => { if (open === undefined && !area.contains(document.activeElement)) draw(); }, 1000);
  onLeave(() => { clearInterval(timer); clearInterval(tick); });
  return [
    h('h2', {}, t('checkout.title')),
    intro,
    h('div', { class: 'lang' }, h('label', { for: 'checkout-location' }, t('checkout.location')), picker),
    status,
    area,
  ];
}
