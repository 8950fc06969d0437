/**
 * Serious adverse events (GET /admin/safety/alerts): each alert raised when a serious event was recorded or
 * reported, with its symptoms in the console's language, who reported it (a person's own report is marked for
 * review), and "Acknowledge" (POST .../acknowledge, audited). Open ones first; "only those not yet acknowledged".
 */
import { h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { symptomText } from '../shared/symptoms.js';
import { adminCall } from './api.js';
import { load, table, when } from './ui.js';

interface Alert {
  adverseEventId: string; patientId: string | null; locationId: string | null; seriousness: string | null; symptoms: string[];
  patientReported: boolean; onset: string | null; raisedAt: string; acknowledgedAt: string | null; acknowledgedBy: string | null;
}

export function safetyView(): Node[] {
  const area = h('div', { id: 'safety' });
  const openOnly = h('input', { type: 'checkbox', id: 'safety-open', checked: true, onchange: () => refresh() });
  const refresh = (): void => load(area, async () => {
    const { alerts } = (await adminCall<{ alerts: Alert[] }>(`/admin/safety/alerts${(openOnly as HTMLInputElement).checked ? '?open=true' : ''}`)).body;
    return [table('safety-table', t('safety.title'), [
      { label: t('safety.raised') }, { label: t('safety.event') }, { label: t('safety.symptoms') }, { label: t('safety.seriousness') }, { label: t('safety.source') }, { label: t('checkout.actions') },
    ], alerts.map((a) => [
      when(a.raisedAt),
      `AdverseEvent/${a.adverseEventId}`,
      a.symptoms.map((s) => symptomText(s)).join(', '),
      a.seriousness ?? '',
      a.patientReported ? t('safety.byPerson') : t('safety.byStaff'),
      a.acknowledgedAt
        ? t('safety.acknowledged', { time: when(a.acknowledgedAt) })
        : h('button', { type: 'button', 'data-ack': a.adverseEventId, onclick: () => void adminCall(`/admin/safety/alerts/${encodeURIComponent(a.adverseEventId)}/acknowledge`, { method: 'POST' }).then(refresh, refresh) }, t('safety.acknowledge')),
    ]))];
  });
  refresh();
  return [h('h2', {}, t('safety.title')), h('p', {}, openOnly, ' ', h('label', { for: 'safety-open' }, t('safety.openOnly'))), area];
}
