/** Console building blocks: tables in a scrolling wrapper, status lines, error text. */
import { HubError } from '../shared/api.js';
import { announce, h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';

export type Cell = string | number | Node | null | undefined;

export function table(id: string, caption: string, headers: Array<{ label: string; num?: boolean }>, rows: Cell[][]): HTMLElement {
  return h('div', { class: 'table-wrap', role: 'region', 'aria-labelledby': `${id}-caption`, tabindex: '0' },
    h('table', { id },
      h('caption', { id: `${id}-caption` }, caption),
      h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', { scope: 'col', class: x.num ? 'num' : undefined }, x.label)))),
      h('tbody', {}, ...(rows.length ? rows : [[t('admin.none')]]).map((r) => h('tr', {}, ...r.map((c, i) =>
        h('td', { class: headers[i]?.num ? 'num' : undefined, 'data-label': headers[i]?.label }, c === null || c === undefined ? '' : typeof c === 'number' ? String(c) : c)))))));
}

export function failed(e: unknown): HTMLElement {
  const message = e instanceof HubError ? `${e.code ? `${e.code}: ` : ''}${e.message}` : e instanceof Error ? e.message : String(e);
  return announce(t('admin.failed', { message }), 'alert');
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : new Intl.DateTimeFormat(document.documentElement.lang || 'en', { dateStyle: 'short', timeStyle: 'medium' }).format(d);
}

/** Runs a load into a container: loading text, then the result or the error. */
export function load(into: HTMLElement, work: () => Promise<Node[]>): void {
  into.replaceChildren(announce(t('app.loading')));
  work().then((nodes) => into.replaceChildren(...nodes), (e: unknown) => into.replaceChildren(failed(e)));
}

/** A datetime-local input value (local time) as an ISO instant. */
export function localToIso(v: string): string {
  return new Date(v).toISOString();
}

/** Now + minutes as a datetime-local value. */
export function localValue(minutesFromNow: number): string {
  const d = new Date(Date.now() + minutesFromNow * 60_000);
  d.setSeconds(0, 0);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}
