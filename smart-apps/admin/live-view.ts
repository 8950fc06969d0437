/**
 * Opening night, live: waiting-room events (GET /waiting-room/admin/events: arrivals = pre-queue + later joins,
 * the admitted frontier, people booking now, the rate in force) and /metrics (refusals of the booking gate by
 * code, load shedding by reason), sampled every few seconds into charts: arrivals / admitted / queue length,
 * admissions and bookings per minute (measured from successive samples), refusals by reason. Operator controls:
 * create an event, pause, resume, queue all, close.
 */
import { announce, field, h } from '../shared/dom.js';
import { t, tOr } from '../shared/i18n.js';
import { adminCall, metricsText } from './api.js';
import { barChart, legend, lineChart, type Series } from './charts.js';
import { byLabel, parseMetrics } from './prom.js';
import { failed, localToIso, localValue, table, when } from './ui.js';

interface EventView {
  id: string; name: string; opensAt: string; closedAt: string | null; active: boolean; paused: boolean; queueAll: boolean; capped: boolean;
  preCount: number; postCount: number; doneCount: number; admitted: number; effectiveRatePerMinute: number; configuredRatePerMinute: number; activeSessions: number; maxActive: number;
}

interface Sample { t: number; arrivals: number; admitted: number; queue: number; done: number }

const KEEP = 120;
const EVERY_MS = 2000;
const samples: Sample[] = [];
/** The event the samples belong to: a chart never mixes two events' counters. */
let sampledEvent: string | undefined;

/** A refusal code of the booking gate (or a load-shedding reason) in words, in the console's language. */
export function refusalText(code: string): string {
  return tOr(`refusal.${code}`, code.startsWith('rate-limit-') ? t('refusal.rate-limit') : code);
}

function stateOf(e: EventView): string {
  if (e.closedAt) return t('live.closed');
  if (Date.parse(e.opensAt) > Date.now()) return t('live.notOpen');
  if (e.queueAll) return t('live.queueingAll');
  if (e.paused) return t('live.paused');
  if (e.capped) return t('live.capped');
  return t('live.running');
}

function perMinute(key: 'admitted' | 'done'): Array<{ t: number; v: number }> {
  const out: Array<{ t: number; v: number }> = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    out.push({ t: b.t, v: Math.max(0, Math.round(((b[key] - a[key]) * 60_000) / Math.max(1, b.t - a.t))) });
  }
  return out;
}

export function liveView(onLeave: (fn: () => void) => void): Node[] {
  const cards = h('div', { class: 'cards', id: 'live-cards' });
  const charts = h('div', { id: 'live-charts' });
  const events = h('div', { id: 'live-events' });
  const notice = h('div', { id: 'live-notice' });
  const updated = h('p', { class: 'hint', id: 'live-updated' });
  let timer: ReturnType<typeof setTimeout> | undefined;
  onLeave(() => clearTimeout(timer));

  const control = (e: EventView, action: 'pause' | 'resume' | 'queue-all' | 'close', label: string, cls = 'secondary'): HTMLElement =>
    h('button', { type: 'button', class: cls, 'data-action': action, onclick: () => {
      adminCall(`/waiting-room/admin/events/${encodeURIComponent(e.id)}/${action}`, { method: 'POST', body: {} }).then(() => void tick(false), (err: unknown) => notice.replaceChildren(failed(err)));
    } }, label);

  const tick = async (schedule: boolean): Promise<void> => {
    try {
      const [list, text] = await Promise.all([adminCall<EventView[]>('/waiting-room/admin/events'), metricsText()]);
      const evs = list.body;
      const current = evs.find((e) => e.active) ?? evs[0];
      const arrivals = current ? current.preCount + current.postCount : 0;
      const admitted = current ? Math.min(arrivals, current.admitted) : 0;
      if (current?.id !== sampledEvent) {
        samples.length = 0;
        sampledEvent = current?.id;
      }
      samples.push({ t: Date.now(), arrivals, admitted, queue: arrivals - admitted, done: current?.doneCount ?? 0 });
      while (samples.length > KEEP) samples.shift();
      const metrics = parseMetrics(text);
      const refusals = new Map<string, number>();
      for (const [code, n] of byLabel(metrics, 'vaxhub_booking_gate_refusals_total', 'code')) if (n > 0) refusals.set(refusalText(code), n);
      for (const [reason, n] of byLabel(metrics, 'vaxhub_load_shed_total', 'reason')) if (n > 0) refusals.set(refusalText(reason), (refusals.get(refusalText(reason)) ?? 0) + n);
      const admitRate = perMinute('admitted');
      const bookRate = perMinute('done');
      const card = (id: string, label: string, v: number | string): HTMLElement => h('div', { id }, h('span', { class: 'value' }, String(v)), label);
      cards.replaceChildren(
        card('card-arrivals', t('live.arrivals'), arrivals),
        card('card-queue', t('live.queue'), arrivals - admitted),
        card('card-admitted', t('live.admitted'), admitted),
        card('card-rate', t('live.admissionRate'), current ? Math.round(current.effectiveRatePerMinute) : 0),
        card('card-active', t('live.active'), current?.activeSessions ?? 0),
        card('card-bookings', t('live.bookings'), bookRate.at(-1)?.v ?? 0),
      );
      const queueSeries: Series[] = [
        { name: t('live.arrivals'), points: samples.map((s) => ({ t: s.t, v: s.arrivals })) },
        { name: t('live.admitted'), points: samples.map((s) => ({ t: s.t, v: s.admitted })) },
        { name: t('live.queue'), points: samples.map((s) => ({ t: s.t, v: s.queue })) },
      ];
      const rateSeries: Series[] = [{ name: t('live.admissionRate'), points: admitRate }, { name: t('live.bookings'), points: bookRate }];
      charts.replaceChildren(
        h('figure', {}, lineChart('queue-chart', t('live.chartQueue'), queueSeries, t('live.time')), h('figcaption', {}, legend(queueSeries.map((s) => s.name)))),
        h('figure', {}, lineChart('rate-chart', t('live.chartRates'), rateSeries, t('live.time')), h('figcaption', {}, legend(rateSeries.map((s) => s.name)))),
        h('h3', {}, t('live.refusals')),
        h('p', { class: 'hint' }, t('live.refusalsSince')),
        refusals.size
          ? h('figure', {}, barChart('refusal-chart', t('live.refusals'), [t('live.refusals')], [...refusals].map(([label, n]) => ({ label, values: [n] }))))
          : h('p', {}, t('live.noMetrics')),
      );
      events.replaceChildren(table('events-table', t('live.events'), [
        { label: t('live.eventName') }, { label: t('live.opensAt') }, { label: t('live.state') }, { label: t('live.arrivals'), num: true },
        { label: t('live.admitted'), num: true }, { label: t('live.rate'), num: true }, { label: '' },
      ], evs.map((e) => [e.name, when(e.opensAt), stateOf(e), e.preCount + e.postCount, Math.min(e.preCount + e.postCount, e.admitted), Math.round(e.effectiveRatePerMinute),
        e.closedAt ? '' : h('span', {}, e.paused || e.queueAll ? control(e, 'resume', t('live.resume')) : control(e, 'pause', t('live.pause')), control(e, 'queue-all', t('live.queueAll'), 'danger'), control(e, 'close', t('live.close')))])));
      updated.textContent = t('admin.updated', { time: when(new Date().toISOString()) });
    } catch (e) {
      notice.replaceChildren(failed(e));
    }
    if (schedule) timer = setTimeout(() => void tick(true), EVERY_MS);
  };

  const form = h('form', { id: 'event-form' },
    field('ev-name', t('live.eventName'), { required: true, value: 'Opening night' }),
    field('ev-opens', t('live.opensAt'), { type: 'datetime-local', required: true, value: localValue(1) }),
    field('ev-rate', t('live.rate'), { type: 'number', min: '1', required: true, value: '60' }),
    field('ev-max', t('live.maxActive'), { type: 'number', min: '1', required: true, value: '200' }),
    h('button', { type: 'submit' }, t('live.create')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = (id: string): string => (document.getElementById(id) as HTMLInputElement).value;
    adminCall('/waiting-room/admin/events', { body: { name: v('ev-name'), opensAt: localToIso(v('ev-opens')), ratePerMinute: Number(v('ev-rate')), maxActive: Number(v('ev-max')) } })
      .then(() => {
        notice.replaceChildren(announce(t('live.created', { name: v('ev-name'), time: when(localToIso(v('ev-opens'))) })));
        void tick(false);
      }, (e: unknown) => notice.replaceChildren(failed(e)));
  });
  void tick(true);
  return [h('h2', {}, t('admin.navLive')), notice, cards, updated, charts, events, h('h3', {}, t('live.create')), form];
}
