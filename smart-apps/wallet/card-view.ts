/**
 * The SMART Health Card page: download the `.smart-health-card` file and show the card's QR code full-screen.
 * The QR image is fetched once when the page opens and kept in memory, so it still shows without a network
 * (at a border, in a basement clinic) as long as the wallet stays open.
 * @see https://spec.smarthealth.cards/#user-retrieves-health-cards
 */
import type { SmartClient as Client } from './session.js';
import { announce, h, showFullScreenImage } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { authorizedFetch, errorText } from './session.js';

let cachedQr: { patientId: string; url: string } | undefined;

async function fetchQr(client: Client, patientId: string): Promise<string | { problem: string }> {
  if (cachedQr?.patientId === patientId) return cachedQr.url;
  const res = await authorizedFetch(client, `/credentials/Patient/${encodeURIComponent(patientId)}/card-qr.png`);
  if (res.status === 422) return { problem: t('card.tooLarge') };
  if (res.status === 404) return { problem: t('card.none') };
  if (!res.ok) return { problem: t('app.error', { message: await errorText(res) }) };
  cachedQr = { patientId, url: URL.createObjectURL(await res.blob()) };
  return cachedQr.url;
}

async function download(client: Client, patientId: string, status: HTMLElement): Promise<void> {
  const res = await authorizedFetch(client, `/credentials/Patient/${encodeURIComponent(patientId)}/card.smart-health-card`);
  if (!res.ok) {
    status.replaceChildren(announce(res.status === 404 ? t('card.none') : t('app.error', { message: await errorText(res) }), 'alert'));
    return;
  }
  const url = URL.createObjectURL(new Blob([await res.arrayBuffer()], { type: 'application/smart-health-card' }));
  const a = h('a', { href: url, download: 'vaccination-record.smart-health-card', hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  status.replaceChildren(announce(t('card.downloaded')));
}

export function cardView(client: Client, patientId: string): HTMLElement[] {
  const status = h('div', { id: 'card-status', 'aria-live': 'polite' });
  const qr = fetchQr(client, patientId).catch((e: unknown) => ({ problem: t('app.error', { message: String(e) }) }));
  return [
    h('h2', {}, t('card.title')),
    h('p', {}, t('card.intro')),
    h(
      'p',
      {},
      h('button', { type: 'button', id: 'download-card', onclick: () => void download(client, patientId, status) }, t('card.download')),
      h(
        'button',
        {
          type: 'button',
          id: 'show-qr',
          class: 'secondary',
          onclick: () =>
            void qr.then((r) =>
              typeof r === 'string' ? showFullScreenImage(r, t('card.qrAlt'), t('card.qrTitle')) : status.replaceChildren(announce(r.problem, 'alert')),
            ),
        },
        t('card.showQr'),
      ),
    ),
    status,
  ];
}
