/**
 * SMART Health Links: create one (optional passcode and end date), list the person's links with who opened
 * them and when, show a link's QR code, and turn a link off. Links open in the hub's viewer (/apps/shl/).
 * @see https://hl7.org/fhir/uv/smart-health-cards-and-links/links-specification.html
 */
import type { SmartClient as Client } from './session.js';
import { announce, field, h, showFullScreenImage } from '../shared/dom.js';
import { formatDate, t, type MessageKey } from '../shared/i18n.js';
import { authorizedFetch, errorText } from './session.js';

interface LinkSummary {
  id: string;
  label?: string;
  flag: string;
  exp?: string;
  revoked: boolean;
  createdAt: string;
  accesses: Array<{ recipient: string; outcome: string; at: string }>;
}

/** The link a recipient opens: the bare `shlink:/...` behind this hub's viewer, unless it already has a viewer. */
export function viewerLink(shlink: string): string {
  return shlink.startsWith('shlink:/') ? `${new URL('../shl/', location.href).href}#${shlink}` : shlink;
}

/** End of the chosen day in the person's time zone, as an ISO instant. */
function endOfDay(date: string): string | undefined {
  return date ? new Date(`${date}T23:59:59`).toISOString() : undefined;
}

function outcomeText(outcome: string): string {
  const key = `outcome.${outcome}` as MessageKey;
  try {
    return t(key);
  } catch {
    return outcome;
  }
}

function linkItem(client: Client, base: string, link: LinkSummary, refresh: () => void): HTMLElement {
  const expired = !!link.exp && Date.parse(link.exp) <= Date.now();
  const state = link.revoked ? t('links.revoked') : expired ? t('links.expired') : t('links.active');
  const active = !link.revoked && !expired;
  const title = link.label ?? t('links.untitled', { date: formatDate(link.createdAt, true) });
  const showQr = async (): Promise<void> => {
    const res = await authorizedFetch(client, `${base}/${encodeURIComponent(link.id)}/qr.png`);
    if (res.ok) showFullScreenImage(URL.createObjectURL(await res.blob()), t('links.qrAlt'), title);
  };
  const revoke = async (): Promise<void> => {
    await authorizedFetch(client, `${base}/${encodeURIComponent(link.id)}`, { method: 'DELETE' });
    refresh();
  };
  return h(
    'li',
    { 'data-link-id': link.id },
    h('h3', {}, title, ' ', h('span', { class: `badge ${active ? 'ok' : 'error'}` }, state)),
    h('p', {}, link.exp ? t('links.expiresOn', { date: formatDate(link.exp, true) }) : t('links.noExpiry'), link.flag.includes('P') ? ` · ${t('links.withPasscode')}` : ''),
    active
      ? h(
          'p',
          {},
          h('button', { type: 'button', class: 'secondary', onclick: () => void showQr() }, t('links.qr')),
          h('button', { type: 'button', class: 'danger', onclick: () => void revoke() }, t('links.revoke')),
        )
      : null,
    h('h4', {}, t('links.log')),
    link.accesses.length
      ? h(
          'table',
          { class: 'access-log' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('links.recipient')), h('th', { scope: 'col' }, t('links.outcome')), h('th', { scope: 'col' }, t('links.at')))),
          h('tbody', {}, ...link.accesses.map((a) => h('tr', {}, h('td', {}, a.recipient), h('td', {}, outcomeText(a.outcome)), h('td', {}, formatDate(a.at, true))))),
        )
      : h('p', {}, t('links.logEmpty')),
  );
}

export function linksView(client: Client, patientId: string): HTMLElement[] {
  const base = `/credentials/Patient/${encodeURIComponent(patientId)}/links`;
  const created = h('div', { id: 'link-created', 'aria-live': 'polite' });
  const list = h('div', { id: 'link-list' }, h('p', {}, t('app.loading')));

  const refresh = (): void => {
    void (async () => {
      const res = await authorizedFetch(client, base);
      if (!res.ok) return void list.replaceChildren(announce(t('app.error', { message: await errorText(res) }), 'alert'));
      const { links } = (await res.json()) as { links: LinkSummary[] };
      const newestFirst = [...links].reverse();
      list.replaceChildren(
        newestFirst.length ? h('ul', { class: 'records' }, ...newestFirst.map((l) => linkItem(client, base, l, refresh))) : h('p', {}, t('links.none')),
      );
    })().catch((e: unknown) => list.replaceChildren(announce(t('app.error', { message: String(e) }), 'alert')));
  };

  const form = h(
    'form',
    { id: 'create-link', novalidate: true },
    field('link-label', t('links.label'), { type: 'text', maxlength: '80', autocomplete: 'off' }),
    field('link-passcode', t('links.passcode'), { type: 'text', maxlength: '64', autocomplete: 'off' }, t('links.passcodeHint')),
    field('link-expires', t('links.expires'), { type: 'date', min: new Date().toISOString().slice(0, 10) }),
    h('button', { type: 'submit' }, t('links.create')),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = (id: string) => (form.querySelector<HTMLInputElement>(`#${id}`)?.value ?? '').trim();
    const body: Record<string, string> = {};
    if (value('link-label')) body.label = value('link-label');
    if (value('link-passcode')) body.passcode = value('link-passcode');
    const expiresAt = endOfDay(value('link-expires'));
    if (expiresAt) body.expiresAt = expiresAt;
    void (async () => {
      const res = await authorizedFetch(client, base, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) return void created.replaceChildren(announce(t('app.error', { message: await errorText(res) }), 'alert'));
      const link = viewerLink(((await res.json()) as { shlink: string }).shlink);
      const copy = h('button', { type: 'button', class: 'secondary' }, t('links.copy'));
      const copied = h('span', { role: 'status' });
      copy.addEventListener('click', () => void navigator.clipboard?.writeText(link).then(() => (copied.textContent = t('links.copied'))));
      created.replaceChildren(
        h('p', { class: 'ok' }, t('links.created')),
        h('p', { class: 'shlink', id: 'new-shlink' }, link),
        h('p', {}, h('a', { class: 'button', href: link, target: '_blank', rel: 'noopener noreferrer', id: 'open-viewer' }, t('links.open')), copy, copied),
      );
      form.reset();
      refresh();
    })().catch((err: unknown) => created.replaceChildren(announce(t('app.error', { message: String(err) }), 'alert')));
  });

  refresh();
  return [h('h2', {}, t('links.title')), h('p', {}, t('links.intro')), form, created, h('h2', {}, t('links.yours')), list];
}
