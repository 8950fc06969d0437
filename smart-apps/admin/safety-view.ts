/**
 * Serious adverse events (GET /admin/safety/alerts): each alert raised when a serious event was recorded or
 * reported, with its symptoms in the console's language, who reported it (a person's own report is marked for
 * review), and "Acknowledge" (POST .../acknowledge, audited). Open ones first; "only those not yet acknowledged".
 * Below, the reactions people reported themselves (wallet, follow-up answers) that nobody has reviewed yet, newest
 * first: "Reviewed" saves the report as staff (the hub marks it staff-verified, and a reaction with a CDC code then
 * goes onto the dose and to the registry).
 */
import { h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { symptomText } from '../shared/symptoms.js';
import { adminCall, bearer, hubUrl } from './api.js';
import type { AdverseEvent, Bundle } from 'fhir/r4';
import { symptomsOf } from '../../src/safety/adverse-event.js';
import { load, table, when } from './ui.js';

interface Alert {
  adverseEventId: string; patientId: string | null; locationId: string | null; seriousness: string | null; symptoms: string[];
  patientReported: boolean; onset: string | null; raisedAt: string; acknowledgedAt: string | null; acknowledgedBy: string | null;
}

/**
 * The VAERS report of an event, as the printable page in a new tab (the console's token stays in this page: the
 * page is fetched with it and handed over as a blob), to read over, print or save as PDF, and submit on vaers.hhs.gov.
 */
async function openVaers(adverseEventId: string): Promise<void> {
  const tab = window.open('', '_blank');
  const res = await fetch(hubUrl(`/admin/safety/vaers/${encodeURIComponent(adverseEventId)}/print`), { headers: { authorization: `Bearer ${bearer()}` } });
  const html = await res.text();
  const url = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
  if (tab) tab.location.href = url;
  else location.assign(url);
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
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', 'data-vaers': a.adverseEventId, onclick: () => void openVaers(a.adverseEventId) }, t('safety.vaers')),
        a.acknowledgedAt
        ? t('safety.acknowledged', { time: when(a.acknowledgedAt) })
        : h('button', { type: 'button', 'data-ack': a.adverseEventId, onclick: () => void adminCall(`/admin/safety/alerts/${encodeURIComponent(a.adverseEventId)}/acknowledge`, { method: 'POST' }).then(refresh, refresh) }, t('safety.acknowledge'))),
    ]))];
  });
  const reports = h('div', { id: 'safety-reports' });
  const refreshReports = (): void => load(reports, async () => {
    const tag = encodeURIComponent('https://vaxhub.org/fhir/CodeSystem/dose-trust|patient-reported');
    const bundle = (await adminCall<Bundle>(`/fhir/AdverseEvent?_tag=${tag}&_sort=-_lastUpdated&_count=50`, { fhir: true })).body;
    const events = (bundle.entry ?? []).map((e) => e.resource as AdverseEvent);
    return [table('safety-reports-table', t('safety.reports'), [
      { label: t('safety.reported') }, { label: t('safety.event') }, { label: t('safety.symptoms') }, { label: t('safety.words') }, { label: t('checkout.actions') },
    ], events.map((e) => [
      when(e.recordedDate ?? e.meta?.lastUpdated),
      `AdverseEvent/${e.id!} · ${e.subject.reference ?? ''}`,
      symptomsOf(e).map((s) => symptomText(s)).join(', '),
      e.event?.text ?? '',
      h('button', { type: 'button', 'data-review': e.id!, onclick: () => void adminCall(`/fhir/AdverseEvent/${encodeURIComponent(e.id!)}`, { method: 'PUT', body: e, fhir: true }).then(refreshReports, refreshReports) }, t('safety.review')),
    ]))];
  });
  refresh();
  refreshReports();
  return [
    h('h2', {}, t('safety.title')), h('p', {}, openOnly, ' ', h('label', { for: 'safety-open' }, t('safety.openOnly'))), area,
    h('h2', {}, t('safety.reports')), reports,
  ];
}
