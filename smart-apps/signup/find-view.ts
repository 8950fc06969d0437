/**
 * Finding a place: postal code or city, vaccine and first date -> clinics nearest first, each with its next free
 * times as buttons. Choosing a time calls `pick` (hold then confirm for a new booking; a move when rescheduling).
 * The person says which vaccine they come for before any time is shown (issue 22: with "Any vaccine" preselected, a
 * clinic listed identical buttons per product and the first one booked high-dose influenza instead of COVID-19);
 * the menu lists current products only, and every time names its vaccine.
 */
import { announce, field, h } from '../shared/dom.js';
import { distanceText } from '../shared/geo.js';
import { vaccineName } from '../shared/fhir-text.js';
import { dayIn, formatDate, formatTime, language, t } from '../shared/i18n.js';
import { errorText, type AppContext } from './context.js';
import { slotsFromFind, slotsFromPublication, type ClinicOption, type SlotOption, type SlotQuery } from './slots.js';

const SHOWN_PER_CLINIC = 6;

export interface FindOptions {
  /** What happens when a time is chosen. */
  pick(clinic: ClinicOption, slot: SlotOption): Promise<void>;
  /** A signed-in person's bearer: search with $find instead of the public publication. */
  bearer?: () => Promise<string | undefined>;
  /** A line above the form (e.g. which appointment is being moved). */
  note?: string;
  initialPostalCode?: string;
  /** The vaccine already known (a move keeps the booked one): searched at once with the postal code. */
  initialProductCvx?: string;
  /** A time chosen elsewhere (a SMART Scheduling Links deep link): marked and focused when found. */
  preferredSlotId?: string;
}

function tomorrow(): string {
  return new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
}

export function findView(app: AppContext, opts: FindOptions): Node[] {
  const results = h('div', { id: 'find-results', 'aria-live': 'polite' });
  const product = h('select', { id: 'find-product', name: 'find-product', required: true },
    h('option', { value: '', disabled: true, selected: !opts.initialProductCvx }, t('find.chooseProduct')),
    ...app.cfg.products.map((p) => h('option', { value: p.cvx, selected: p.cvx === opts.initialProductCvx }, vaccineName(p.cvx) ?? p.name)));
  const form = h('form', { id: 'find-form', role: 'search' },
    field('find-near', t('find.postalCode'), { autocomplete: 'postal-code', required: true, value: opts.initialPostalCode ?? '' }),
    h('div', { class: 'field' }, h('label', { for: 'find-product' }, t('find.product')), product),
    field('find-from', t('find.from'), { type: 'date', value: tomorrow(), min: new Date().toISOString().slice(0, 10) }),
    h('button', { type: 'submit' }, t('find.search')));

  const clinicItem = (c: ClinicOption): HTMLElement => {
    let shown = SHOWN_PER_CLINIC;
    const times = h('ul', { class: 'times' });
    const more = h('button', { type: 'button', class: 'secondary' }, t('find.more'));
    const drawTimes = (): void => {
      times.replaceChildren(...c.slots.slice(0, shown).map((s) => {
        const label = t('find.holdAt', { product: s.productName, time: formatTime(s.start, c.timeZone), date: formatDate(dayIn(s.start, c.timeZone)), n: s.free ?? '?' });
        const b = h('button', { type: 'button', class: 'slot', 'data-slot': s.slotId }, s.free === undefined ? label.replace(/\s*\(.*\)$/, '') : label);
        b.addEventListener('click', () => {
          b.disabled = true;
          opts.pick(c, s).catch((e: unknown) => {
            b.disabled = false;
            results.prepend(announce(errorText(e), 'alert'));
          });
        });
        return h('li', {}, b);
      }));
      more.hidden = shown >= c.slots.length;
    };
    more.addEventListener('click', () => {
      shown += SHOWN_PER_CLINIC;
      drawTimes();
    });
    drawTimes();
    return h('li', { class: 'clinic', 'data-location': c.id },
      h('h3', {}, c.name),
      h('p', {}, c.address, c.km !== undefined ? h('span', { class: 'distance' }, ` · ${t('find.km', { distance: distanceText(c.km, language()) })}`) : null),
      times, more);
  };

  const search = async (): Promise<void> => {
    const q: SlotQuery = {
      near: (document.getElementById('find-near') as HTMLInputElement).value,
      productCvx: product.value,
      from: (document.getElementById('find-from') as HTMLInputElement).value || tomorrow(),
      hubTimeZone: app.cfg.timeZone,
    };
    results.replaceChildren(announce(t('app.loading')));
    try {
      const bearer = opts.bearer ? await opts.bearer() : undefined;
      const clinics = bearer ? await slotsFromFind(app.cfg.fhirBaseUrl, q, bearer) : await slotsFromPublication(app.cfg.fhirBaseUrl, q);
      results.replaceChildren(
        clinics.length ? h('p', { class: 'status' }, t('find.results', { n: clinics.length })) : announce(t('find.none')),
        ...(bearer ? [] : [h('p', { class: 'hint' }, t('find.stale'))]),
        h('ul', { class: 'records clinics' }, ...clinics.map(clinicItem)),
      );
      const preferred = opts.preferredSlotId ? results.querySelector<HTMLButtonElement>(`button[data-slot="${CSS.escape(opts.preferredSlotId)}"]`) : null;
      preferred?.classList.add('preferred');
      preferred?.focus();
    } catch (e) {
      results.replaceChildren(announce(errorText(e), 'alert'));
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void search();
  });
  if (opts.initialPostalCode && product.value) queueMicrotask(() => void search());
  return [h('h2', {}, t('find.title')), ...(opts.note ? [h('p', { class: 'status' }, opts.note)] : []), form, results];
}
