/**
 * Serious adverse events (GET /admin/safety/alerts): each alert raised when a serious event was recorded or
 * reported, with its symptoms in the console's language, who reported it (a person's own report is marked for
 * review), and "Acknowledge" (POST .../acknowledge, audited). Open ones first; "only those not yet acknowledged".
 * Below, the reactions people reported themselves (wallet, follow-up answers) that nobody has reviewed yet, newest
 * first: "Reviewed" saves the report as staff (the hub marks it staff-verified, and a reaction with a CDC code then
 * goes onto the dose and to the registry).
 * Last, the follow-up check-ins people chose after their doses (GET /admin/followups): due, sent, answered or stopped,
 * with "Stop the rest" for a dose (POST /admin/followups/Patient/<id>/stop, audited).
 */
import { h } from '../shared/dom.js';
import { t, type MessageKey } from '../shared/i18n.js';
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

interface FollowupRow {
  immunizationId: string; step: number; patientId: string; label: string; dueAt: string; status: 'scheduled' | 'queued' | 'stopped' | 'unreachable';
  answeredAt: string | null; adverseEventId: string | null; delivery: string | null;
}

/** One word for a check-in's state: the schedule's, then the outbox's once it is queued. */
function followupState(s: FollowupRow): 'scheduled' | 'queued' | 'sent' | 'stopped' | 'unreachable' | 'failed' {
  if (s.status !== 'queued') return s.status;
  if (s.delivery === 'sent') return 'sent';
  if (s.delivery === 'skipped') return 'stopped';
  return s.delivery === 'dead' ? 'failed' : 'queued';
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
  const followups = h('div', { id: 'safety-followups' });
  const refreshFollowups = (): void => load(followups, async () => {
    const { steps } = (await adminCall<{ steps: FollowupRow[] }>('/admin/followups')).body;
    return [table('followups-table', t('followup.staffTitle'), [
      { label: t('followup.due') }, { label: t('followup.person') }, { label: t('followup.step') }, { label: t('followup.state') }, { label: t('followup.answer') }, { label: t('checkout.actions') },
    ], steps.map((s) => [
      when(s.dueAt),
      `Patient/${s.patientId} · Immunization/${s.immunizationId}`,
      s.label,
      t(`followup.state.${followupState(s)}` as MessageKey),
      [s.answeredAt ? t('followup.answered', { time: when(s.answeredAt) }) : '', s.adverseEventId ? t('followup.draft', { id: s.adverseEventId }) : ''].filter(Boolean).join(' · '),
      s.status === 'scheduled' || (s.status === 'queued' && s.delivery === 'pending')
        ? h('button', { type: 'button', class: 'secondary', 'data-stop': `${s.immunizationId}:${s.step}`, onclick: () => void adminCall(`/admin/followups/Patient/${encodeURIComponent(s.patientId)}/stop`, { method: 'POST', body: { immunizationId: s.immunizationId } }).then(refreshFollowups, refreshFollowups) }, t('followup.stop'))
        : '',
    ]))];
  });
  refresh();
  refreshReports();
  refreshFollowups();
  return [
    h('h2', {}, t('safety.title')), h('p', {}, openOnly, ' ', h('label', { for: 'safety-open' }, t('safety.openOnly'))), area,
    h('h2', {}, t('safety.reports')), reports,
    h('h2', {}, t('followup.staffTitle')), h('p', {}, t('followup.staffIntro')), followups,
  ];
}
