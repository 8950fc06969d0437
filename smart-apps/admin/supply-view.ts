/** Supply by location and product (GET /admin/supply): a table and a bar chart of on hand, reserved, expiring soon. */
import { h } from '../shared/dom.js';
import { vaccineName } from '../shared/fhir-text.js';
import { t } from '../shared/i18n.js';
import { adminCall } from './api.js';
import { barChart, legend } from './charts.js';
import { load, table } from './ui.js';
import type { SupplyRow } from '../../src/apps/operator-routes.js';

/**
 * A product as people know it, its CVX code after it: the apps' catalogue name, else the hub's, and the bare code
 * once only when neither knows it (the hub's fallback name is "CVX nnn", which made "CVX 301 (CVX 301)").
 */
export function productLabel(cvx: string, hubName: string): string {
  const name = vaccineName(cvx) ?? (hubName && hubName !== `CVX ${cvx}` ? hubName : undefined);
  return name ? `${name} (CVX ${cvx})` : `CVX ${cvx}`;
}

export function supplyView(): Node[] {
  const area = h('div', { id: 'supply' });
  const refresh = (): void => load(area, async () => {
    const { days, rows } = (await adminCall<{ days: number; rows: SupplyRow[] }>('/admin/supply?days=30')).body;
    const series = [t('supply.onHand'), t('supply.reserved'), t('supply.expiring', { days })];
    const byLocation = new Map<string, number[]>();
    for (const r of rows) {
      const v = byLocation.get(r.locationName) ?? [0, 0, 0];
      byLocation.set(r.locationName, [v[0]! + r.onHand, v[1]! + r.reserved, v[2]! + r.expiringSoon]);
    }
    return [
      h('figure', {}, barChart('supply-chart', t('supply.chart'), series, [...byLocation].map(([label, values]) => ({ label, values }))), h('figcaption', {}, legend(series))),
      table('supply-table', t('supply.title'), [
        { label: t('supply.location') }, { label: t('supply.product') }, { label: t('supply.onHand'), num: true }, { label: t('supply.reserved'), num: true },
        { label: t('supply.available'), num: true }, { label: t('supply.expiring', { days }), num: true }, { label: t('supply.expected'), num: true }, { label: t('supply.lots') },
      ], rows.map((r) => [r.locationName, productLabel(r.productCvx, r.productName), r.onHand, r.reserved, r.available, r.expiringSoon, r.expected,
        r.lots.map((l) => `${l.lot}${l.expiresOn ? ` → ${l.expiresOn}` : ''}`).join(', ')])),
    ];
  });
  refresh();
  return [h('h2', {}, t('supply.title')), h('button', { type: 'button', class: 'secondary', onclick: refresh }, t('admin.refresh')), area];
}
