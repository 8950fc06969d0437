/**
 * "Am I eligible? Where and when?" (#assistant): a few questions, then the hub's answer (POST /signup/assistant) in
 * the person's language, each part with the rule it came from and a way on to registration. Nothing typed here is
 * stored, on the hub or on this device.
 */
import { call } from '../shared/api.js';
import { announce, field, h } from '../shared/dom.js';
import { vaccineName } from '../shared/fhir-text.js';
import { distanceText } from '../shared/geo.js';
import { formatDate, language, t, tOr } from '../shared/i18n.js';
import { errorText, type AppContext } from './context.js';
import { fieldProblem } from './register-view.js';

interface Criterion { minAge?: number; maxAge?: number; occupationIn?: string[]; anyConditionIn?: string[] }
interface RuleRef { source: string; version?: string; tier?: string; criterion?: Criterion; because?: string; birthDateAssumed?: string }
type Eligibility =
  | { status: 'eligible'; tier: string; tierDisplay: string; rule: RuleRef }
  | { status: 'not-yet'; rule: RuleRef }
  | { status: 'under-minimum-age'; minimumAge: number; eligibleFrom?: string; rule: RuleRef };
interface WindowRef { name: string; opensAt: string; closesAt: string }
export interface AssistantAnswer {
  eligibility: Eligibility;
  ifBornOnOrBefore?: { bornOnOrBefore: string; eligibility: Eligibility };
  opening: { status: 'open' | 'scheduled' | 'depends-on-birth-date' | 'not-scheduled' | 'not-eligible'; window?: WindowRef };
  clinics: Array<{ id: string; name: string; address?: string; phone?: string; distanceKm?: number; products: Array<{ cvx: string; freePlaces: number; firstFree: string }> }>;
  nextDose: { status: 'none-yet' | 'due' | 'complete' | 'not-recommended' | 'unknown-vaccine'; cvx?: string; vaccineGroup?: string; doseNumber?: number; dosesInSeries?: number; earliest?: string; due?: string; rule: RuleRef };
  bring: string[];
}

const FIELD_OF: Record<string, string> = { birthYear: 'asst-year', birthDate: 'asst-birth', age: 'asst-year', postalCode: 'asst-postal', occupation: 'asst-occupation', conditions: 'asst-conditions' };

function value(form: HTMLFormElement, id: string): string {
  return ((form.elements.namedItem(id) as HTMLInputElement | HTMLSelectElement | null)?.value ?? '').trim();
}

/** The criterion that matched, in the person's words: their own occupation and conditions, not the rule's lists. */
function becauseText(app: AppContext, c: Criterion | undefined, asked: { occupation?: string; conditions: string[] }): string {
  if (!c) return '';
  const parts: string[] = [];
  if (c.minAge !== undefined) parts.push(t('asst.ruleAge', { age: c.minAge }));
  if (c.maxAge !== undefined) parts.push(t('asst.ruleMaxAge', { age: c.maxAge }));
  if (c.occupationIn && asked.occupation) parts.push(tOr(`occ.${asked.occupation}`, app.cfg.occupations[asked.occupation] ?? asked.occupation));
  if (c.anyConditionIn) {
    for (const cond of asked.conditions.filter((x) => c.anyConditionIn!.includes(x))) parts.push(tOr(`cond.${cond}`, app.cfg.conditions[cond] ?? cond));
  }
  return parts.join(', ');
}

const tierName = (app: AppContext, code: string, display: string): string => tOr(`tier.${code}`, app.cfg.tiers[code] ?? display);

function eligibilityText(app: AppContext, e: Eligibility): string {
  if (e.status === 'eligible') return t('asst.eligible', { tier: tierName(app, e.tier, e.tierDisplay) });
  if (e.status === 'under-minimum-age') return t('asst.underAge', { age: e.minimumAge, date: formatDate(e.eligibleFrom) });
  return t('asst.notYet');
}

function ruleLine(app: AppContext, e: Eligibility, asked: { occupation?: string; conditions: string[] }): HTMLElement | null {
  if (e.status !== 'eligible') return null;
  return h('p', { class: 'hint rule' }, t('asst.ruleTier', { tier: tierName(app, e.tier, e.tierDisplay), version: e.rule.version ?? '', because: becauseText(app, e.rule.criterion, asked) }));
}

function openingText(o: AssistantAnswer['opening']): string {
  switch (o.status) {
    case 'open': return t('asst.open', { date: formatDate(o.window!.closesAt, true) });
    case 'scheduled': return t('asst.scheduled', { date: formatDate(o.window!.opensAt, true) });
    case 'depends-on-birth-date': return t('asst.dependsOnBirthDate', { name: o.window!.name, date: formatDate(o.window!.opensAt, true) });
    case 'not-scheduled': return t('asst.notScheduled');
    default: return t('asst.notEligibleOpening');
  }
}

const nameOf = (cvx: string | undefined): string => (cvx ? vaccineName(cvx) ?? `CVX ${cvx}` : '');

/** The hub's forecast rule that answered (src/scheduling/assistant/cdsi-next-dose.ts). */
const CDSI_RULE_SOURCE = 'CDC CDSi';

function nextDoseText(n: AssistantAnswer['nextDose']): string {
  switch (n.status) {
    case 'due':
      // CDSi forecasts one dose at a time (no series length); the product rule knows the series' doses.
      return n.dosesInSeries
        ? t('asst.nextDue', { dose: n.doseNumber!, of: n.dosesInSeries, vaccine: nameOf(n.cvx), earliest: formatDate(n.earliest), due: formatDate(n.due) })
        : t('asst.nextDueCdsi', { dose: n.doseNumber!, vaccine: nameOf(n.cvx), group: n.vaccineGroup ?? '', earliest: formatDate(n.earliest), due: formatDate(n.due) });
    case 'not-recommended': return t('asst.nextNotRecommended', { vaccine: nameOf(n.cvx), group: n.vaccineGroup ?? '' });
    case 'complete': return t('asst.nextComplete', { vaccine: nameOf(n.cvx), n: n.dosesInSeries! });
    case 'unknown-vaccine': return t('asst.nextUnknown', { cvx: n.cvx! });
    default: return t('asst.nextNone');
  }
}

/** Which rule gave the next dose: CDC's CDSi logic (and the birth date it assumed), or the product list. */
function nextDoseRule(n: AssistantAnswer['nextDose']): HTMLElement | null {
  if (n.status === 'none-yet' || n.status === 'unknown-vaccine') return null;
  if (n.rule.source !== CDSI_RULE_SOURCE) return h('p', { class: 'hint rule', 'data-rule': 'product' }, t('asst.ruleSeries'));
  // The data's version (a content hash) is in the JSON answer for those who check; people get the rule's name.
  return h('p', { class: 'hint rule', 'data-rule': 'cdsi' }, t('asst.ruleCdsi'),
    n.rule.birthDateAssumed ? ` ${t('asst.ruleCdsiBirth', { date: formatDate(n.rule.birthDateAssumed) })}` : '');
}

function answerView(app: AppContext, a: AssistantAnswer, asked: { occupation?: string; conditions: string[] }): HTMLElement {
  const section = (id: string, title: string, ...body: Array<Node | null>): HTMLElement =>
    h('section', { id, class: 'status-card', 'aria-labelledby': `${id}-title` }, h('h4', { id: `${id}-title` }, title), ...body.filter((x): x is Node => !!x));
  return h('div', { id: 'assistant-answer' },
    h('h3', { id: 'asst-answer-title', tabindex: '-1' }, t('asst.answerTitle')),
    section('asst-eligible', t('asst.eligibleTitle'),
      h('p', { class: 'answer-eligibility' }, eligibilityText(app, a.eligibility)),
      a.ifBornOnOrBefore ? h('p', { class: 'answer-older' }, t('asst.olderBirthday', { date: formatDate(a.ifBornOnOrBefore.bornOnOrBefore), answer: eligibilityText(app, a.ifBornOnOrBefore.eligibility) })) : null,
      ruleLine(app, a.eligibility, asked)),
    section('asst-opening', t('asst.openingTitle'),
      h('p', { class: 'answer-opening' }, openingText(a.opening)),
      a.opening.window ? h('p', { class: 'hint rule' }, t('asst.ruleWave', { name: a.opening.window.name })) : null),
    section('asst-clinics', t('asst.clinicsTitle'),
      a.clinics.length === 0
        ? h('p', {}, t('asst.noClinics', { days: 14 }))
        : h('ul', { class: 'records', id: 'asst-clinic-list' }, ...a.clinics.map((c) => h('li', { class: 'clinic' },
          h('strong', {}, c.name),
          h('p', {}, c.address ?? '', c.distanceKm !== undefined ? h('span', { class: 'distance' }, ` · ${t('find.km', { distance: distanceText(c.distanceKm, language()) })}`) : null),
          h('ul', {}, ...c.products.map((p) => h('li', { class: 'offer' }, t('asst.places', { vaccine: nameOf(p.cvx), n: p.freePlaces, date: formatDate(p.firstFree, true) }))))))),
      h('p', { class: 'hint rule' }, t('asst.clinicsRule'))),
    section('asst-next', t('asst.nextTitle'),
      h('p', { class: 'answer-next' }, nextDoseText(a.nextDose)),
      nextDoseRule(a.nextDose)),
    section('asst-bring', t('asst.bringTitle'),
      h('ul', { id: 'asst-bring-list' }, ...a.bring.map((k) => h('li', {}, tOr(k, k))))),
    a.eligibility.status === 'under-minimum-age' ? null : h('p', {}, h('a', { href: '#register', class: 'button' }, t('asst.registerNow'))),
  );
}

export function assistantView(app: AppContext): Node[] {
  const out = h('div', { id: 'assistant-out', 'aria-live': 'polite' });
  const thisYear = new Date().getFullYear();
  const occupation = h('select', { id: 'asst-occupation', name: 'asst-occupation' },
    h('option', { value: '' }, t('asst.anyOccupation')),
    ...Object.entries(app.cfg.occupations).map(([code, display]) => h('option', { value: code }, tOr(`occ.${code}`, display))));
  const conditions = h('fieldset', { id: 'asst-conditions', class: 'checks' },
    h('legend', {}, t('asst.conditions')),
    ...Object.entries(app.cfg.conditions).map(([code, display]) =>
      h('div', { class: 'check' }, h('input', { type: 'checkbox', id: `asst-cond-${code}`, name: 'asst-condition', value: code }), h('label', { for: `asst-cond-${code}` }, tOr(`cond.${code}`, display)))));
  // Earlier doses: every product the hub knows (people had doses of products no longer offered).
  const doseVaccine = h('select', { id: 'asst-dose-vaccine', name: 'asst-dose-vaccine' },
    h('option', { value: '' }, t('asst.noDose')),
    ...app.cfg.products.map((p) => h('option', { value: p.cvx }, vaccineName(p.cvx) ?? p.name)));
  const doses = h('fieldset', { id: 'asst-doses', class: 'checks' },
    h('legend', {}, t('asst.doses')),
    h('div', { class: 'field' }, h('label', { for: 'asst-dose-vaccine' }, t('asst.doseVaccine')), doseVaccine),
    field('asst-dose-date', t('asst.doseDate'), { type: 'date', max: new Date().toISOString().slice(0, 10) }));
  const form = h('form', { id: 'assistant-form', novalidate: true },
    field('asst-year', t('asst.birthYear'), { type: 'number', inputmode: 'numeric', min: '1900', max: String(thisYear), required: true, autocomplete: 'bday-year' }, t('asst.birthYearHint')),
    field('asst-birth', t('asst.birthDate'), { type: 'date', autocomplete: 'bday' }),
    field('asst-postal', t('asst.postal'), { autocomplete: 'postal-code', inputmode: 'text' }),
    h('div', { class: 'field' }, h('label', { for: 'asst-occupation' }, t('asst.occupation')), occupation),
    conditions,
    doses,
    h('button', { type: 'submit' }, t('asst.ask')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    for (const el of Array.from(form.querySelectorAll('[aria-invalid]'))) el.removeAttribute('aria-invalid');
    const asked = {
      occupation: value(form, 'asst-occupation') || undefined,
      conditions: Array.from(form.querySelectorAll<HTMLInputElement>('input[name=asst-condition]:checked')).map((c) => c.value),
    };
    const birthDate = value(form, 'asst-birth');
    const year = value(form, 'asst-year');
    const dose = value(form, 'asst-dose-vaccine');
    const doseDate = value(form, 'asst-dose-date');
    const body = {
      ...(birthDate ? { birthDate } : { birthYear: year }),
      postalCode: value(form, 'asst-postal') || undefined,
      ...asked,
      doses: dose && doseDate ? [{ cvx: dose, date: doseDate }] : [],
    };
    out.replaceChildren(announce(t('app.loading')));
    call<AssistantAnswer>(`${app.hub}/signup/assistant`, { body })
      .then((r) => {
        out.replaceChildren(answerView(app, r.body, asked));
        (document.getElementById('asst-answer-title') as HTMLElement | null)?.focus();
      })
      .catch((e: unknown) => {
        const issue = (e as { issues?: Array<{ message: string; expression?: string }> }).issues?.[0];
        const fieldId = issue?.expression ? FIELD_OF[issue.expression.replace(/\[\d+\]$/, '')] : undefined;
        if (fieldId) document.getElementById(fieldId)?.setAttribute('aria-invalid', 'true');
        out.replaceChildren(announce(issue ? fieldProblem(issue) : errorText(e), 'alert'));
      });
  });
  return [h('h2', {}, t('asst.title')), h('p', {}, t('asst.intro')), form, out];
}
