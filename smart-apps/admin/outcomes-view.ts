/**
 * Outcomes against doses (GET /admin/outcomes/rates, issue 24): the de-identified table of first infections per
 * 100 000 person-days by product of the last counted dose, dose number and days since that dose, for an outcome
 * and period the operator picks, with a bar chart of the same rates; counts of 1-10 show as "<11" and the counts
 * hidden beside them say "suppressed". CSV to download; "Publish" stores it as a MeasureReport for registries.
 */
import { announce, h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { adminCall } from './api.js';
import { rateChart } from './charts.js';
import { failed, load, table } from './ui.js';

interface Row {
  kind: 'cell' | 'product' | 'total';
  product: { cvx: string; name: string } | null;
  unvaccinated: boolean;
  doseNumber: number | null;
  band: { label: string } | null;
  personsShown: string;
  personDays: number;
  outcomesShown: string;
  suppressed: 'small-count' | 'complementary' | null;
  rate: number | null;
}
interface Table {
  outcome: { code: string; display: string };
  period: { from: string; to: string };
  rules: { doseEffectDays: number; smallCellMax: number; ratePer: number };
  rows: Row[];
}
interface Catalogue {
  outcomes: Array<{ code: string; display: string }>;
  defaults: { from: string; to: string };
}

/** A row's name; `short`: the product's name cut to fit beside the chart's bars (the table has it whole). */
function rowLabel(r: Row, short = false): string {
  if (r.kind === 'total') return t('outcomes.total');
  if (r.unvaccinated) return t('outcomes.unvaccinated');
  const name = r.product!.name;
  const product = short && name.length > 22 ? `${name.slice(0, 21).trimEnd()}…` : name;
  if (r.kind === 'product') return t('outcomes.allOf', { product });
  return t('outcomes.cell', { product, dose: String(r.doseNumber), band: r.band!.label });
}

export function outcomesView(): Node[] {
  const area = h('div', { id: 'outcomes' });
  const notice = h('div', { id: 'outcomes-notice' });
  const picker = h('select', { id: 'outcomes-outcome', name: 'outcome' });
  const from = h('input', { id: 'outcomes-from', name: 'from', type: 'date', required: true }) as HTMLInputElement;
  const to = h('input', { id: 'outcomes-to', name: 'to', type: 'date', required: true }) as HTMLInputElement;
  const query = (): string => `outcome=${encodeURIComponent((picker as HTMLSelectElement).value)}&from=${from.value}&to=${to.value}`;

  const show = (): void => load(area, async () => {
    const tab = (await adminCall<Table>(`/admin/outcomes/rates?${query()}`)).body;
    const per = tab.rules.ratePer.toLocaleString(document.documentElement.lang || 'en');
    const shown = tab.rows.filter((r) => r.rate !== null);
    const hidden = tab.rows.length - shown.length;
    const top = [...shown].sort((a, b) => b.rate! - a.rate!)[0];
    const summary = top
      ? t('outcomes.chartSummary', { highest: `${rowLabel(top)} (${top.rate})`, shown: String(shown.length), hidden: String(hidden) })
      : t('outcomes.chartEmpty');
    const title = t('outcomes.chartTitle', { outcome: tab.outcome.display, from: tab.period.from, to: tab.period.to });
    return [
      h('p', { id: 'outcomes-rules' }, t('outcomes.rules', { days: String(tab.rules.doseEffectDays), max: String(tab.rules.smallCellMax), min: String(tab.rules.smallCellMax + 1), per })),
      table('outcomes-table', title, [
        { label: t('outcomes.row') }, { label: t('outcomes.persons'), num: true }, { label: t('outcomes.personDays'), num: true },
        { label: t('outcomes.outcomes'), num: true }, { label: t('outcomes.rate', { per }), num: true },
      ], tab.rows.map((r) => [
        r.kind === 'cell' ? rowLabel(r) : h('strong', {}, rowLabel(r)),
        r.personsShown, r.personDays, r.outcomesShown === 'suppressed' ? t('outcomes.suppressed') : r.outcomesShown,
        r.rate === null ? '—' : String(r.rate),
      ])),
      h('figure', { id: 'outcomes-figure' },
        rateChart('outcomes-chart', title, t('outcomes.rate', { per }), tab.rows.map((r) => ({
          label: rowLabel(r, true), title: rowLabel(r), value: r.rate, note: r.suppressed ? t('outcomes.chartSuppressed') : t('outcomes.chartNoTime'),
        })), summary),
        h('figcaption', {}, summary)),
    ];
  });

  const downloadCsv = async (): Promise<void> => {
    const r = await adminCall<string>(`/admin/outcomes/rates?${query()}&format=csv`);
    const url = URL.createObjectURL(new Blob([typeof r.body === 'string' ? r.body : String(r.body)], { type: 'text/csv;charset=utf-8' }));
    const a = h('a', { href: url, download: `outcome-rates-${(picker as HTMLSelectElement).value}-${from.value}-${to.value}.csv`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  const publish = async (): Promise<void> => {
    const r = await adminCall<{ id: string }>('/admin/outcomes/reports', { method: 'POST', body: { outcome: (picker as HTMLSelectElement).value, from: from.value, to: to.value } });
    notice.replaceChildren(announce(t('outcomes.published', { id: `MeasureReport/${r.body.id}` })));
  };

  const form = h('form', { id: 'outcomes-form', class: 'inline-form' },
    h('div', { class: 'field' }, h('label', { for: 'outcomes-outcome' }, t('outcomes.outcome')), picker),
    h('div', { class: 'field' }, h('label', { for: 'outcomes-from' }, t('outcomes.from')), from),
    h('div', { class: 'field' }, h('label', { for: 'outcomes-to' }, t('outcomes.to')), to),
    h('button', { type: 'submit' }, t('outcomes.show')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    notice.replaceChildren();
    show();
  });
  const tools = h('div', { class: 'tools' },
    h('button', { type: 'button', id: 'outcomes-csv', class: 'secondary', onclick: () => void downloadCsv().catch((e: unknown) => notice.replaceChildren(failed(e))) }, t('outcomes.csv')),
    h('button', { type: 'button', id: 'outcomes-publish', class: 'secondary', onclick: () => void publish().catch((e: unknown) => notice.replaceChildren(failed(e))) }, t('outcomes.publish')));

  adminCall<Catalogue>('/admin/outcomes').then(({ body }) => {
    picker.replaceChildren(...body.outcomes.map((o) => h('option', { value: o.code }, o.display)));
    from.value = body.defaults.from;
    to.value = body.defaults.to;
    show();
  }, (e: unknown) => area.replaceChildren(failed(e)));
  return [h('h2', {}, t('admin.navOutcomes')), h('p', {}, t('outcomes.intro')), form, tools, notice, area];
}
