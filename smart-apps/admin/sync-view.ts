/**
 * Registry and EHR sync: IIS connection health, patients whose reports wait behind a dead message, and the messages
 * that failed for good (GET /admin/iis/connections, /admin/iis/messages?state=dead and ?state=rejected) with a
 * retry/resend that sends the same message again (same MSH-10);
 * EHR connections with their sync state, "sync now", and the size of the patient-match review queue (/sync/admin).
 */
import { announce, h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { adminCall } from './api.js';
import { failed, load, table, when } from './ui.js';

interface Blocked { connectionId: string; patientId: string; deadMessageId: number; reason: string | null; waiting: number }
interface Health { connectionId: string; name: string; enabled: boolean; queueDepth: number; dead: number; rejected?: number; acceptedWithErrors?: number; blocked?: { patients: number; messages: number; detail: Blocked[] }; lastSuccessAt: string | null; lastFailureAt: string | null; lastFailure: string | null }
interface Message { id: number; connectionId: string; controlId: string; messageType: string; patientId: string; state: string; attempts: number; lastError: string | null; ackCode: string | null; ackText: string | null; errors: Array<{ message?: string }>; createdAt: string }
interface EhrConnection { name: string; state?: Record<string, unknown> | null }

export function syncView(): Node[] {
  const iis = h('div', { id: 'iis' });
  const messages = h('div', { id: 'iis-messages' });
  const ehr = h('div', { id: 'ehr' });
  const notice = h('div', { id: 'sync-notice' });

  const loadIis = (): void => {
    load(iis, async () => {
      const { health } = (await adminCall<{ health: Health[] }>('/admin/iis/connections')).body;
      // A dead message stops its patient's later reports (order is kept): say so where operators look.
      const blocked = health.flatMap((c) => c.blocked?.detail ?? []);
      return [
        ...blocked.map((b) => h('p', { class: 'warning blocked', role: 'alert' }, t('sync.blockedNotice', { patient: b.patientId, connection: b.connectionId, n: b.waiting, id: b.deadMessageId, reason: b.reason ?? '' }))),
        table('iis-table', t('sync.iis'), [
          { label: t('sync.connection') }, { label: t('sync.enabled') }, { label: t('sync.queueDepth'), num: true }, { label: t('sync.dead'), num: true },
          { label: t('sync.rejected'), num: true }, { label: t('sync.withErrors'), num: true }, { label: t('sync.blocked'), num: true }, { label: t('sync.lastSuccess') }, { label: t('sync.lastFailure') },
        ], health.map((c) => [c.name || c.connectionId, c.enabled ? '✔' : '✘', c.queueDepth, c.dead, c.rejected ?? 0, c.acceptedWithErrors ?? 0, c.blocked?.messages ?? 0, when(c.lastSuccessAt), `${when(c.lastFailureAt)} ${c.lastFailure ?? ''}`.trim()])),
      ];
    });
    load(messages, async () => {
      const [dead, rejected] = await Promise.all(['dead', 'rejected'].map((s) => adminCall<Message[]>(`/admin/iis/messages?state=${s}&limit=100`).then((r) => r.body)));
      const rows = [...dead!, ...rejected!].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      return [table('failed-table', t('sync.failedMessages'), [
        { label: t('sync.message') }, { label: t('sync.connection') }, { label: t('sync.patient') }, { label: t('live.state') }, { label: t('sync.attempts'), num: true }, { label: t('sync.error') }, { label: '' },
      ], rows.map((m) => [h('span', { class: 'mono' }, `${m.messageType} ${m.controlId}`), m.connectionId, m.patientId, m.state, m.attempts,
        // lastError is the reason in the registry's own words (ERR-8, ERR-3.2 or ERR-5.2 with the code and field)
        [m.ackCode, m.lastError].filter(Boolean).join(' · '),
        h('button', { type: 'button', class: 'secondary retry', 'data-message': String(m.id), onclick: () => {
          adminCall(`/admin/iis/messages/${m.id}/retry`, { method: 'POST', body: {} }).then(() => {
            notice.replaceChildren(announce(t('sync.retried', { id: m.id })));
            loadIis();
          }, (e: unknown) => notice.replaceChildren(failed(e)));
        } }, m.state === 'dead' ? t('sync.retry') : t('sync.resend'))]))];
    });
  };
  const loadEhr = (): void => load(ehr, async () => {
    const [conns, review] = await Promise.all([adminCall<EhrConnection[]>('/sync/admin/connections'), adminCall<unknown[]>('/sync/admin/review')]);
    return [
      table('ehr-table', t('sync.ehr'), [{ label: t('sync.connection') }, { label: t('sync.state') }, { label: '' }],
        conns.body.map((c) => [c.name, h('span', { class: 'mono' }, JSON.stringify(c.state ?? {})), h('button', { type: 'button', class: 'secondary', onclick: () => {
          adminCall(`/sync/admin/connections/${encodeURIComponent(c.name)}/run`, { method: 'POST', body: {} }).then(() => loadEhr(), (e: unknown) => notice.replaceChildren(failed(e)));
        } }, t('sync.run'))])),
      h('p', { id: 'review-count' }, t('sync.review', { n: review.body.length })),
    ];
  });
  loadIis();
  loadEhr();
  return [h('h2', {}, t('admin.navSync')), notice, h('button', { type: 'button', class: 'secondary', onclick: () => { loadIis(); loadEhr(); } }, t('admin.refresh')), iis, messages, ehr];
}
