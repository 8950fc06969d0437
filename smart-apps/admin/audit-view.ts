/** Audit log search (GET /auth/admin/audit: patient, client, action, outcome, since, _count) as a table. */
import type { AuditEvent, Bundle } from 'fhir/r4';
import { field, h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { adminCall } from './api.js';
import { load, table, when } from './ui.js';

/** The hub's audit actions and outcomes, as GET /auth/admin/audit filters by them (src/auth/audit.ts). */
const ACTIONS = ['login', 'authorize', 'token', 'read', 'vread', 'search', 'history', 'create', 'update', 'delete', 'operation', 'export', 'credential-download', 'admin'];
const OUTCOMES = ['success', 'failure', 'denied', 'error'];

function select(id: string, label: string, values: string[]): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: id }, label),
    h('select', { id }, h('option', { value: '' }, t('audit.any')), ...values.map((v) => h('option', { value: v }, v))));
}

export function auditView(): Node[] {
  const results = h('div', { id: 'audit-results' });
  const form = h('form', { id: 'audit-form', role: 'search' },
    field('audit-patient', t('audit.patient'), {}),
    field('audit-client', t('audit.client'), {}),
    select('audit-action', t('audit.action'), ACTIONS),
    select('audit-outcome', t('audit.outcome'), OUTCOMES),
    field('audit-since', t('audit.since'), { type: 'date' }),
    h('button', { type: 'submit' }, t('audit.search')));
  const search = (): void => {
    const v = (id: string): string => (document.getElementById(id) as HTMLInputElement).value.trim();
    const q = new URLSearchParams({ _count: '100' });
    if (v('audit-patient')) q.set('patient', v('audit-patient'));
    if (v('audit-client')) q.set('client', v('audit-client'));
    if (v('audit-action')) q.set('action', v('audit-action'));
    if (v('audit-outcome')) q.set('outcome', v('audit-outcome'));
    if (v('audit-since')) q.set('since', new Date(`${v('audit-since')}T00:00:00`).toISOString());
    load(results, async () => {
      const b = (await adminCall<Bundle<AuditEvent>>(`/auth/admin/audit?${q}`)).body;
      const events = (b.entry ?? []).map((e) => e.resource!).filter(Boolean);
      return [table('audit-table', t('audit.found', { n: events.length }), [
        { label: t('audit.when') }, { label: t('audit.action') }, { label: t('audit.outcome') }, { label: t('audit.who') }, { label: t('audit.what') },
      ], events.map((e) => [when(e.recorded), `${e.action ?? ''} ${e.subtype?.map((s) => s.code).join(',') ?? e.type.display ?? ''}`.trim(), `${e.outcome ?? ''} ${e.outcomeDesc ?? ''}`.trim(),
        e.agent.map((a) => a.who?.reference ?? a.who?.identifier?.value ?? a.who?.display ?? '').filter(Boolean).join(', '),
        h('span', { class: 'mono' }, (e.entity ?? []).map((x) => x.what?.reference ?? x.what?.display ?? x.description ?? x.query ?? '').filter(Boolean).join(' '))]))];
    });
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    search();
  });
  queueMicrotask(search); // after the form is on the page
  return [h('h2', {}, t('audit.title')), form, results];
}
