/** Audit log search (GET /auth/admin/audit: patient, client, action, outcome, since, _count) as a table. */
import type { AuditEvent, Bundle } from 'fhir/r4';
import { field, h } from '../shared/dom.js';
import { t, tOr } from '../shared/i18n.js';
import { adminCall } from './api.js';
import { load, table, when } from './ui.js';

/** The hub's audit actions and outcomes, as GET /auth/admin/audit filters by them (src/auth/audit.ts). */
const ACTIONS = ['login', 'authorize', 'token', 'read', 'vread', 'search', 'history', 'create', 'update', 'delete', 'operation', 'export', 'credential-download', 'admin'];
const OUTCOMES = ['success', 'failure', 'denied', 'error'];

function select(id: string, label: string, values: string[], words: (v: string) => string): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: id }, label),
    h('select', { id }, h('option', { value: '' }, t('audit.any')), ...values.map((v) => h('option', { value: v }, words(v)))));
}

const actionWords = (code: string): string => tOr(`audit.act.${code}`, code);
const outcomeWords = (code: string): string => tOr(`audit.out.${code}`, code);

/**
 * What happened, in words: the hub's own action (subtype: read, search, admin...), not the DICOM letter of
 * AuditEvent.action (C/R/U/D/E), which once showed as "E admin".
 */
export function auditAction(e: AuditEvent): string {
  const sub = e.subtype?.map((s) => s.code).filter((c): c is string => !!c) ?? [];
  return sub.length ? sub.map(actionWords).join(', ') : e.type.display ?? e.type.code ?? '';
}

/** The outcome in words (the hub writes its outcome's name or the failure's detail in outcomeDesc), not 0/4/8/12. */
export function auditOutcome(e: AuditEvent): string {
  const desc = e.outcomeDesc ?? '';
  if (OUTCOMES.includes(desc)) return outcomeWords(desc);
  const base = e.outcome === '0' || e.outcome === undefined ? outcomeWords('success') : e.outcome === '4' ? outcomeWords('failure') : outcomeWords('error');
  return desc ? `${base}: ${desc}` : base;
}

/** A base64 query (AuditEvent.entity.query is base64Binary) as the text it encodes. */
function decodeQuery(b64: string): string {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
  } catch {
    return b64;
  }
}

/** What was touched: references and names, and a search's query decoded (never the base64 itself). */
export function auditWhat(e: AuditEvent): string {
  return (e.entity ?? []).map((x) => {
    const what = x.what?.reference ?? x.what?.display ?? x.description ?? '';
    const query = x.query ? `${t('audit.queryLabel')}: ${decodeQuery(x.query)}` : '';
    return [what, query].filter(Boolean).join(' — ');
  }).filter(Boolean).join('; ');
}

export function auditView(): Node[] {
  const results = h('div', { id: 'audit-results' });
  const form = h('form', { id: 'audit-form', role: 'search' },
    field('audit-patient', t('audit.patient'), {}),
    field('audit-client', t('audit.client'), {}),
    select('audit-action', t('audit.action'), ACTIONS, actionWords),
    select('audit-outcome', t('audit.outcome'), OUTCOMES, outcomeWords),
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
      ], events.map((e) => [when(e.recorded), auditAction(e), auditOutcome(e),
        e.agent.map((a) => a.who?.reference ?? a.who?.identifier?.value ?? a.who?.display ?? '').filter(Boolean).join(', '),
        h('span', { class: 'mono' }, auditWhat(e))]))];
    });
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    search();
  });
  queueMicrotask(search); // after the form is on the page
  return [h('h2', {}, t('audit.title')), form, results];
}
