/**
 * #hours: a clinic's day as staff change it. The day's slots with their places (each settable, never below the
 * people booked); the day's opening hours re-planned (ranges with breaks between them, minutes per slot, places per
 * slot) per vaccine schedule; and closing the day, or the days from it to a last day (weather, supply, staffing),
 * after which the people affected are listed with how they were told and the place held for them.
 */
import { announce, h } from '../shared/dom.js';
import { t, type MessageKey } from '../shared/i18n.js';
import { adminCall } from './api.js';
import { clinicPicker } from './clinic-day-view.js';
import { failed, table } from './ui.js';

interface DaySlot { slotId: string; scheduleId: string; productCvx: string; start: string; end: string; capacity: number; taken: number }
interface Affected { appointmentId: string; reference: string; name: string; start: string; notified: 'mail' | 'sms' | 'call'; phone?: string; offer?: { start: string } }

const REASONS = ['weather', 'supply', 'staffing', 'other'] as const;

function timeOf(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat(document.documentElement.lang || 'en', { timeZone, hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
}
function whenOf(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat(document.documentElement.lang || 'en', { timeZone, dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

export function clinicScheduleView(): Node[] {
  const notice = h('div', { id: 'sched-notice', role: 'status' });
  const area = h('div', { id: 'sched-area' });
  // Outside the part a reload redraws: the people affected by a closure stay listed for the calls to make.
  const affectedArea = h('div', { id: 'closure-result' });
  const pickArea = h('div', {});

  const show = async (loc: { id: string; name: string; timeZone: string; schedules: Array<{ id: string; productName: string }> }, day: string): Promise<void> => {
    const base = `/admin/clinic/locations/${encodeURIComponent(loc.id)}/days/${day}`;
    const { slots, timeZone } = (await adminCall<{ slots: DaySlot[]; timeZone: string }>(`${base}/slots`)).body;
    const reload = (message: string): void => {
      notice.replaceChildren(h('p', { class: 'ok' }, message));
      void show(loc, day).catch((e: unknown) => area.replaceChildren(failed(e)));
    };
    const placesCell = (s: DaySlot): Node => {
      const id = `places-${s.slotId}`;
      const input = h('input', { id, type: 'number', min: String(s.taken), max: '10000', value: String(s.capacity), inputmode: 'numeric', class: 'places' });
      const form = h('form', { class: 'inline' }, h('label', { for: id, class: 'visually-hidden' }, t('sched.setPlaces', { time: timeOf(s.start, timeZone) })), input,
        h('button', { type: 'submit', class: 'secondary' }, t('sched.saveSlot')));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        adminCall(`/admin/clinic/slots/${encodeURIComponent(s.slotId)}`, { method: 'PUT', body: { capacity: Number(input.value) } })
          .then(() => reload(t('clinic.done')), (e: unknown) => notice.replaceChildren(failed(e)));
      });
      return form;
    };

    const hours = h('form', { id: 'hours-form' },
      h('h3', {}, t('sched.hoursTitle')),
      h('div', { class: 'field' }, h('label', { for: 'hours-schedule' }, t('sched.schedule')),
        h('select', { id: 'hours-schedule', name: 'schedule' }, ...loc.schedules.map((s) => h('option', { value: s.id }, s.productName)))),
      h('div', { class: 'field' }, h('label', { for: 'hours-hours' }, t('sched.hours')), h('p', { id: 'hours-hint', class: 'hint' }, t('sched.hoursHint')),
        h('input', { id: 'hours-hours', name: 'hours', required: true, value: '09:00-12:00,13:00-17:00', 'aria-describedby': 'hours-hint' })),
      h('div', { class: 'field' }, h('label', { for: 'hours-minutes' }, t('sched.slotMinutes')), h('input', { id: 'hours-minutes', type: 'number', min: '5', max: '240', value: '15', required: true })),
      h('div', { class: 'field' }, h('label', { for: 'hours-capacity' }, t('sched.capacity')), h('input', { id: 'hours-capacity', type: 'number', min: '1', max: '10000', value: '4', required: true })),
      h('button', { type: 'submit' }, t('sched.saveHours')));
    hours.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = (id: string): string => (document.getElementById(id) as HTMLInputElement).value;
      adminCall<{ created: number; updated: number; closed: number; kept: DaySlot[] }>(`/admin/clinic/schedules/${encodeURIComponent(v('hours-schedule'))}/days/${day}`, {
        method: 'PUT', body: { hours: v('hours-hours'), slotMinutes: Number(v('hours-minutes')), capacity: Number(v('hours-capacity')) },
      }).then((r) => reload([t('sched.hoursSaved', { created: r.body.created, updated: r.body.updated, closed: r.body.closed }), r.body.kept.length ? t('sched.kept', { n: r.body.kept.length }) : ''].filter(Boolean).join(' ')),
        (e: unknown) => notice.replaceChildren(failed(e)));
    });

    const close = h('form', { id: 'close-form' },
      h('h3', {}, t('sched.closeTitle')),
      h('p', {}, t('sched.closeIntro')),
      h('div', { class: 'field' }, h('label', { for: 'close-reason' }, t('sched.reason')),
        h('select', { id: 'close-reason', name: 'reason' }, ...REASONS.map((r) => h('option', { value: r }, t(`sched.r.${r}` as MessageKey))))),
      h('div', { class: 'field' }, h('label', { for: 'close-to' }, t('sched.closeTo')), h('input', { id: 'close-to', name: 'to', type: 'date', min: day, value: day, required: true })),
      h('div', { class: 'field' }, h('label', { for: 'close-note' }, t('sched.note')), h('input', { id: 'close-note', name: 'note', maxlength: '500' })),
      h('button', { type: 'submit', class: 'danger' }, t('sched.close')));
    close.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const to = (document.getElementById('close-to') as HTMLInputElement).value || day;
      const range = to !== day;
      if (!window.confirm(range ? t('sched.confirmCloseRange', { clinic: loc.name, day, to }) : t('sched.confirmClose', { clinic: loc.name, day }))) return;
      const note = (document.getElementById('close-note') as HTMLInputElement).value.trim();
      adminCall<{ affected: Affected[] }>(`${base}/closure`, { body: { reason: (document.getElementById('close-reason') as HTMLSelectElement).value, ...(range ? { to } : {}), ...(note ? { note } : {}) } })
        .then((r) => {
          reload(t('clinic.done'));
          affectedArea.replaceChildren(table('affected-table', t('sched.affected'), [
            { label: t('clinic.time') }, { label: t('clinic.ref') }, { label: t('clinic.name') }, { label: t('sched.told') }, { label: t('clinic.phone') }, { label: t('sched.offer') },
          ], r.body.affected.map((a) => [range ? whenOf(a.start, timeZone) : timeOf(a.start, timeZone), h('span', { class: 'mono', 'data-appointment': a.appointmentId }, a.reference), a.name, t(`sched.by.${a.notified}` as MessageKey), a.phone ?? '',
            a.offer ? whenOf(a.offer.start, timeZone) : t('sched.noOffer')])));
        }, (e: unknown) => notice.replaceChildren(failed(e)));
    });

    area.replaceChildren(
      slots.length
        ? table('slots-table', `${t('sched.slots')}: ${loc.name}, ${day}`, [{ label: t('sched.start') }, { label: t('sched.taken'), num: true }, { label: t('sched.places') }],
          slots.map((s) => [timeOf(s.start, timeZone), s.taken, placesCell(s)]))
        : announce(t('admin.none')),
      hours, close,
    );
  };

  clinicPicker('sched', (loc, day) => {
    notice.replaceChildren();
    affectedArea.replaceChildren();
    show(loc, day).catch((e: unknown) => area.replaceChildren(failed(e)));
  }).then((form) => pickArea.replaceChildren(form), (e: unknown) => pickArea.replaceChildren(failed(e)));
  return [h('h2', {}, t('admin.navSchedule')), pickArea, notice, affectedArea, area];
}
