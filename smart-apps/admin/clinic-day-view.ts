/**
 * #clinic: the clinic's day at the door. Pick the clinic and the day; the list (GET /admin/clinic/locations/:id/
 * days/:day) shows who is expected when and where each stands, with the next step as a button: check in
 * ($check-in), record the dose ($record-dose, from a dialog offering today's usable lots, site, route, vaccinator
 * and the VIS), mark a no-show or undo it, withdraw a dose entered in error. The list prints on one clean page
 * (the print stylesheet in app.css) and downloads as CSV (the hub makes it formula-safe).
 */
import { announce, h } from '../shared/dom.js';
import { t, type MessageKey } from '../shared/i18n.js';
import { adminCall } from './api.js';
import { dialogWith, fhirOp, selectField, type Parameters } from './dialogs.js';
import { withdrawDoseDialog } from './dose-fix.js';
import { failed, table } from './ui.js';

interface ClinicLocation { id: string; name: string; timeZone: string; today: string; schedules: Array<{ id: string; productCvx: string; productName: string }> }
type DayStatus = 'expected' | 'checked-in' | 'vaccinated' | 'no-show';
interface DayRow {
  appointmentId: string; reference: string; start: string; name: string; birthDate: string; phone: string;
  productName: string; doseNumber: number; status: DayStatus; immunizationId?: string; lot?: string;
}
interface DayList { locationId: string; locationName: string; day: string; timeZone: string; closed?: { reason: string }; rows: DayRow[]; counts: Record<DayStatus, number> }
interface DoseForm {
  appointment: { id: string; name: string; productName: string; doseNumber: number };
  lots: Array<{ inventoryId: string; lot: string; expiresOn: string | null; usable: number; reservedForThem: boolean }>;
  practitioners: Array<{ id: string; name: string }>;
  sites: Array<{ code: string; display: string }>;
  routes: Array<{ code: string; display: string }>;
  /** The signed-in staff member's Practitioner id. */
  me?: string;
}

const PICK_KEY = 'vaxhub.admin.clinic';

/** The clinic and day last looked at (this tab), shared with the hours view. */
export function lastPick(): { location?: string; day?: string } {
  try {
    return JSON.parse(sessionStorage.getItem(PICK_KEY) ?? '{}') as { location?: string; day?: string };
  } catch {
    return {};
  }
}
export function rememberPick(location: string, day: string): void {
  sessionStorage.setItem(PICK_KEY, JSON.stringify({ location, day }));
}

/** The clinic + day picker used by both clinic views. */
export async function clinicPicker(prefix: string, onPick: (loc: ClinicLocation, day: string) => void): Promise<HTMLElement> {
  const { locations } = (await adminCall<{ locations: ClinicLocation[] }>('/admin/clinic/locations')).body;
  if (!locations.length) return announce(t('clinic.noClinics'));
  const pick = lastPick();
  const first = locations.find((l) => l.id === pick.location) ?? locations[0]!;
  const select = h('select', { id: `${prefix}-location`, name: 'location' }, ...locations.map((l) => h('option', { value: l.id, selected: l === first }, l.name)));
  const date = h('input', { id: `${prefix}-day`, name: 'day', type: 'date', required: true, value: pick.day ?? first.today });
  const form = h('form', { id: `${prefix}-form`, class: 'pick' },
    h('div', { class: 'field' }, h('label', { for: `${prefix}-location` }, t('clinic.clinic')), select),
    h('div', { class: 'field' }, h('label', { for: `${prefix}-day` }, t('clinic.day')), date),
    h('button', { type: 'submit' }, t('clinic.show')));
  const go = (): void => {
    const loc = locations.find((l) => l.id === select.value) ?? first;
    rememberPick(loc.id, date.value);
    onPick(loc, date.value);
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go();
  });
  queueMicrotask(go);
  return form;
}

function timeOf(iso: string, timeZone: string): string {
  return new Intl.DateTimeFormat(document.documentElement.lang || 'en', { timeZone, hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
}

export function clinicDayView(): Node[] {
  const notice = h('div', { id: 'clinic-notice', role: 'status' });
  const area = h('div', { id: 'clinic-list' });
  const pickArea = h('div', { class: 'no-print' });
  let current: { loc: ClinicLocation; day: string } | undefined;
  const done = (message: string): void => {
    notice.replaceChildren(h('p', { class: 'ok' }, message));
    void refresh();
  };

  const act = (button: HTMLButtonElement, work: () => Promise<string>): void => {
    button.disabled = true;
    work().then(done, (e: unknown) => {
      button.disabled = false;
      notice.replaceChildren(failed(e));
    });
  };

  const recordDose = async (row: DayRow): Promise<void> => {
    const f = (await adminCall<DoseForm>(`/admin/clinic/appointments/${encodeURIComponent(row.appointmentId)}/dose-form`)).body;
    if (!f.lots.length) {
      notice.replaceChildren(announce(t('clinic.noLots'), 'alert'));
      return;
    }
    const lots = h('fieldset', { class: 'checks lots' }, h('legend', {}, t('clinic.lotPick')),
      ...f.lots.map((l, i) => h('div', { class: 'check' },
        h('input', { type: 'radio', name: 'lot', id: `lot-${i}`, value: l.inventoryId, required: true, checked: i === 0 }),
        h('label', { for: `lot-${i}` }, t('clinic.lotLine', { lot: l.lot, expires: l.expiresOn ?? '—', n: l.usable })))));
    // The VIS edition last given for this product on this device: the same sheet all day, so one tap less per dose.
    const visKey = `vaxhub.admin.vis.${f.appointment.productName}`;
    const visDate = h('input', { id: 'dose-vis-date', name: 'dose-vis-date', type: 'date', required: true, value: localStorage.getItem(visKey) ?? '' });
    const vis = h('input', { id: 'dose-vis', name: 'dose-vis', type: 'checkbox', checked: true, onchange: () => {
      visDate.disabled = !vis.checked;
    } });
    const me = f.me ?? f.practitioners[0]?.id;
    dialogWith('dose-dialog', t('clinic.doseFor', { name: f.appointment.name, vaccine: f.appointment.productName, dose: f.appointment.doseNumber }), [
      lots,
      selectField('dose-site', t('clinic.site'), f.sites.map((s) => ({ value: s.code, label: s.display })), 'LD'),
      selectField('dose-route', t('clinic.route'), f.routes.map((r) => ({ value: r.code, label: r.display })), 'IM'),
      selectField('dose-vaccinator', t('clinic.vaccinator'), f.practitioners.map((p) => ({ value: p.id, label: p.name })), me),
      h('div', { class: 'check' }, vis, h('label', { for: 'dose-vis' }, t('clinic.visGiven'))),
      h('div', { class: 'field' }, h('label', { for: 'dose-vis-date' }, t('clinic.visEdition')), visDate),
    ], t('clinic.save'), async (form) => {
      const data = new FormData(form);
      const lot = String(data.get('lot'));
      const lotName = f.lots.find((l) => l.inventoryId === lot)?.lot ?? lot;
      await fhirOp(`Appointment/${encodeURIComponent(row.appointmentId)}/$record-dose`, [
        { name: 'lot', valueString: lot },
        { name: 'site', valueString: String(data.get('dose-site')) },
        { name: 'route', valueString: String(data.get('dose-route')) },
        { name: 'performer', valueString: `Practitioner/${String(data.get('dose-vaccinator'))}` },
        ...(vis.checked ? [{ name: 'vis-published', valueString: visDate.value }] : []),
      ]);
      if (vis.checked) localStorage.setItem(visKey, visDate.value);
      done(t('clinic.recorded', { name: row.name, lot: lotName }));
    });
  };

  const withdraw = (row: DayRow): void => withdrawDoseDialog(row.immunizationId!, row.name, done);

  const actions = (row: DayRow, list: DayList): Node => {
    const button = (cls: string, label: MessageKey, onclick: (b: HTMLButtonElement) => void, secondary = false): HTMLButtonElement => {
      const b = h('button', { type: 'button', class: `${cls}${secondary ? ' secondary' : ''}`, 'aria-label': `${t(label)}: ${row.name}` }, t(label));
      b.addEventListener('click', () => onclick(b));
      return b;
    };
    const started = new Date(row.start).getTime() <= Date.now();
    const out: Node[] = [];
    if (row.status === 'expected') {
      out.push(button('check-in', 'clinic.checkIn', (b) => act(b, async () => {
        await fhirOp(`Appointment/${encodeURIComponent(row.appointmentId)}/$check-in`);
        return t('clinic.done');
      })));
      if (started) {
        out.push(button('no-show', 'clinic.noShow', (b) => act(b, async () => {
          const r = await fhirOp(`Appointment/${encodeURIComponent(row.appointmentId)}/$no-show`) as { body: Parameters };
          const freed = r.body.parameter.find((p) => p.name === 'freed-place')?.valueReference?.reference;
          const at = freed ? (await adminCall<{ start?: string }>(`/fhir/${freed}`, { fhir: true })).body.start : undefined;
          return at ? `${t('clinic.done')} ${t('clinic.freed', { time: timeOf(at, list.timeZone) })}` : t('clinic.done');
        }), true));
      }
    } else if (row.status === 'checked-in') {
      out.push(button('record-dose', 'clinic.recordDose', (b) => {
        b.disabled = true;
        recordDose(row).then(() => (b.disabled = false), (e: unknown) => {
          b.disabled = false;
          notice.replaceChildren(failed(e));
        });
      }));
    } else if (row.status === 'no-show') {
      out.push(button('undo-no-show', 'clinic.undoNoShow', (b) => act(b, async () => {
        await fhirOp(`Appointment/${encodeURIComponent(row.appointmentId)}/$undo-no-show`);
        return t('clinic.done');
      }), true));
    } else if (row.immunizationId) {
      out.push(button('in-error', 'clinic.inError', () => withdraw(row), true));
    }
    return h('div', { class: 'row-actions no-print' }, ...out);
  };

  const downloadCsv = async (): Promise<void> => {
    if (!current) return;
    const path = `/admin/clinic/locations/${encodeURIComponent(current.loc.id)}/days/${current.day}?format=csv`;
    const r = await adminCall<string>(path);
    const url = URL.createObjectURL(new Blob([typeof r.body === 'string' ? r.body : String(r.body)], { type: 'text/csv;charset=utf-8' }));
    const a = h('a', { href: url, download: `day-list-${current.loc.name.replace(/[^A-Za-z0-9]+/g, '-')}-${current.day}.csv`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };

  /**
   * The places still free for the rest of the day (after no-shows and cancellations), offered to the next people
   * by the hub's verifiable draw (POST /admin/draws, then run): the same fairness as every wave.
   */
  const freePlaces = async (loc: ClinicLocation, day: string): Promise<Node> => {
    const { slots } = (await adminCall<{ slots: Array<{ start: string; capacity: number; taken: number }> }>(`/admin/clinic/locations/${encodeURIComponent(loc.id)}/days/${day}/slots`)).body;
    const n = slots.filter((s) => new Date(s.start).getTime() > Date.now()).reduce((sum, s) => sum + Math.max(0, s.capacity - s.taken), 0);
    const box = h('div', { id: 'free-today', class: 'no-print' }, h('p', {}, t('clinic.freeToday', { n })));
    if (n > 0) {
      const b = h('button', { type: 'button', id: 'offer-freed', class: 'secondary' }, t('clinic.offer', { n }));
      b.addEventListener('click', () => {
        if (!window.confirm(t('clinic.confirmOffer', { n }))) return;
        act(b, async () => {
          const draw = (await adminCall<{ id: string }>('/admin/draws', { body: { label: t('clinic.drawLabel', { n, clinic: loc.name, day }), invitations: n } })).body;
          const run = (await adminCall<{ invited: number }>(`/admin/draws/${encodeURIComponent(draw.id)}/run`, { body: {} })).body;
          return t('clinic.offered', { n: run.invited, id: draw.id });
        });
      });
      box.append(b);
    }
    return box;
  };

  const refresh = async (): Promise<void> => {
    if (!current) return;
    const { loc, day } = current;
    try {
      const list = (await adminCall<DayList>(`/admin/clinic/locations/${encodeURIComponent(loc.id)}/days/${day}`)).body;
      const free = day === loc.today ? await freePlaces(loc, day) : '';
      const c = list.counts;
      area.replaceChildren(
        h('h3', { id: 'day-title' }, t('clinic.listTitle', { clinic: list.locationName, day: list.day })),
        list.closed ? announce(t('clinic.closed', { reason: list.closed.reason }), 'alert') : '',
        h('p', { id: 'day-counts' }, t('clinic.counts', { expected: c.expected, checkedIn: c['checked-in'], vaccinated: c.vaccinated, noShow: c['no-show'] })),
        free,
        h('p', { class: 'print-only' }, t('clinic.printed', { when: new Date().toLocaleString(document.documentElement.lang || 'en') })),
        table('day-table', t('clinic.listTitle', { clinic: list.locationName, day: list.day }), [
          { label: t('clinic.time') }, { label: t('clinic.ref') }, { label: t('clinic.name') }, { label: t('clinic.birthDate') }, { label: t('clinic.phone') },
          { label: t('clinic.vaccine') }, { label: t('clinic.status') }, { label: t('clinic.lot') }, { label: t('clinic.actions') },
        ], list.rows.map((r) => [
          timeOf(r.start, list.timeZone), h('span', { class: 'mono' }, r.reference), r.name, r.birthDate, r.phone, `${r.productName} (${r.doseNumber})`,
          h('span', { class: `badge st-${r.status}`, 'data-appointment': r.appointmentId }, t(`clinic.st.${r.status}` as MessageKey)), r.lot ?? '', actions(r, list),
        ])),
      );
    } catch (e) {
      area.replaceChildren(failed(e));
    }
  };

  const tools = h('div', { class: 'tools no-print' },
    h('button', { type: 'button', id: 'clinic-print', class: 'secondary', onclick: () => window.print() }, t('clinic.print')),
    h('button', { type: 'button', id: 'clinic-csv', class: 'secondary', onclick: () => void downloadCsv().catch((e: unknown) => notice.replaceChildren(failed(e))) }, t('clinic.csv')));
  clinicPicker('clinic', (loc, day) => {
    current = { loc, day };
    notice.replaceChildren();
    void refresh();
  }).then((form) => pickArea.replaceChildren(form), (e: unknown) => pickArea.replaceChildren(failed(e)));
  return [h('h2', { class: 'no-print' }, t('admin.navClinicDay')), pickArea, tools, notice, area];
}
