/**
 * "What's due": the person's next doses in plain words, from the hub's forecast. With the CDSi engine that is
 * `Patient/[id]/$immds-forecast` (today's answer by CDC's rules, every vaccine group); a hub without it offers no
 * such operation, and the wallet reads the stored ImmunizationRecommendation (the product catalogue's next-dose
 * rule) instead. Groups the person has completed, is immune to, has aged out of or that are not routinely
 * recommended (travel vaccines) are summarised, not listed as tasks.
 */
import type { Bundle, ImmunizationRecommendation, ImmunizationRecommendationRecommendation, Parameters } from 'fhir/r4';
import type { SmartClient as Client } from './session.js';
import { h } from '../shared/dom.js';
import { formatDate, t } from '../shared/i18n.js';

const LOINC = { earliest: '30981-5', due: '30980-7', overdue: '59778-1', latest: '59777-3' } as const;
const CDSI_STATUS = 'https://vaxhub.org/fhir/CodeSystem/cdsi-forecast-status';
const R4_STATUS = 'http://terminology.hl7.org/CodeSystem/immunization-recommendation-status';

/** One line of the list: what it is for, which dose, and when. */
export interface DueItem {
  vaccine: string;
  doseNumber?: number;
  /** overdue: past its past-due date; due: at or past its due date; soon: may be given now, due later; later: not yet. */
  when: 'overdue' | 'due' | 'soon' | 'later';
  earliest?: string;
  due?: string;
  overdueSince?: string;
}

export interface DueSummary {
  items: DueItem[];
  /** Vaccines whose series is complete or to which the person is immune. */
  done: string[];
}

function criterion(r: ImmunizationRecommendationRecommendation, code: string): string | undefined {
  return r.dateCriterion?.find((d) => d.code.coding?.some((c) => c.code === code))?.value?.slice(0, 10);
}

function statusOf(r: ImmunizationRecommendationRecommendation): string {
  const cdsi = r.forecastStatus.coding?.find((c) => c.system === CDSI_STATUS)?.code;
  if (cdsi) return cdsi;
  const r4 = r.forecastStatus.coding?.find((c) => c.system === R4_STATUS)?.code;
  return r4 === 'due' || r4 === 'overdue' ? 'not-complete' : r4 ?? 'not-complete';
}

/** The name people know: the diseases it protects against (as the forecast names them), else the vaccine's name. */
function vaccineOf(r: ImmunizationRecommendationRecommendation): string {
  const diseases = (r.targetDisease?.coding ?? []).map((c) => c.display).filter((d): d is string => Boolean(d));
  const group = r.vaccineCode?.[0]?.text ?? r.vaccineCode?.[0]?.coding?.[0]?.display ?? '';
  if (diseases.length) return `${diseases.join(', ')}${group ? ` (${group})` : ''}`;
  return group || r.targetDisease?.text || '';
}

/** Pure: the forecast's recommendations as plain items, the most urgent first. */
export function dueSummary(recs: ImmunizationRecommendationRecommendation[], today: string): DueSummary {
  const items: DueItem[] = [];
  const done: string[] = [];
  for (const r of recs) {
    const status = statusOf(r);
    if (status === 'complete' || status === 'immune') {
      done.push(vaccineOf(r));
      continue;
    }
    if (status !== 'not-complete') continue; // aged out, contraindicated, not recommended: nothing to do
    const earliest = criterion(r, LOINC.earliest);
    const due = criterion(r, LOINC.due);
    const overdue = criterion(r, LOINC.overdue);
    const latest = criterion(r, LOINC.latest);
    if (latest && latest < today) continue; // past the latest age for it: no longer offered
    const when: DueItem['when'] = overdue && overdue <= today ? 'overdue' : due && due <= today ? 'due' : earliest && earliest <= today ? 'soon' : 'later';
    items.push({
      vaccine: vaccineOf(r),
      ...(r.doseNumberPositiveInt ? { doseNumber: r.doseNumberPositiveInt } : {}),
      when,
      ...(earliest ? { earliest } : {}),
      ...(due ? { due } : {}),
      ...(overdue ? { overdueSince: overdue } : {}),
    });
  }
  const rank = { overdue: 0, due: 1, soon: 2, later: 3 };
  items.sort((a, b) => rank[a.when] - rank[b.when] || (a.due ?? a.earliest ?? '').localeCompare(b.due ?? b.earliest ?? ''));
  return { items, done: [...new Set(done)].sort() };
}

/** A sentence for one item, in the person's language. */
export function dueSentence(i: DueItem): string {
  const dose = i.doseNumber ? t('due.dose', { n: i.doseNumber }) : t('due.nextDose');
  switch (i.when) {
    case 'overdue':
      return t('due.overdue', { dose, date: formatDate(i.overdueSince) });
    case 'due':
      return t('due.dueNow', { dose, date: formatDate(i.due) });
    case 'soon':
      return i.due ? t('due.canNow', { dose, date: formatDate(i.due) }) : t('due.canNowNoDate', { dose });
    case 'later':
      return i.earliest ? t('due.from', { dose, date: formatDate(i.earliest), due: formatDate(i.due ?? i.earliest) }) : t('due.dueOn', { dose, date: formatDate(i.due) });
  }
}

/** Today's forecast: the CDSi operation when the hub offers it, else the stored recommendations. */
export async function loadForecast(client: Client, patientId: string): Promise<ImmunizationRecommendationRecommendation[]> {
  try {
    const p = await client.request<Parameters>(`Patient/${encodeURIComponent(patientId)}/$immds-forecast`);
    const rec = p.parameter?.find((x) => x.name === 'recommendation')?.resource as ImmunizationRecommendation | undefined;
    if (rec) return rec.recommendation;
  } catch {
    // No CDSi engine on this hub (the operation is not offered): the stored recommendations below.
  }
  const bundle = await client.request<Bundle>(`ImmunizationRecommendation?patient=${encodeURIComponent(patientId)}&_count=50`);
  return (bundle.entry ?? []).flatMap((e) => (e.resource as ImmunizationRecommendation | undefined)?.recommendation ?? []);
}

export function dueView(recs: ImmunizationRecommendationRecommendation[] | undefined, today: string): HTMLElement[] {
  if (!recs) return [h('h2', { id: 'due-title' }, t('due.title')), h('p', {}, t('due.unavailable'))];
  const { items, done } = dueSummary(recs, today);
  const out: Array<HTMLElement | null> = [
    h('h2', { id: 'due-title' }, t('due.title')),
    items.length
      ? h('ul', { class: 'records', id: 'due', 'aria-labelledby': 'due-title' }, ...items.map((i) => h('li', { 'data-when': i.when }, h('h3', {}, i.vaccine), h('p', {}, dueSentence(i)))))
      : h('p', {}, t('due.nothing')),
    done.length ? h('p', { id: 'due-done' }, t('due.done', { list: done.join('; ') })) : null,
    h('p', { class: 'hint' }, t('due.hint')),
  ];
  return out.filter((x): x is HTMLElement => x !== null);
}
