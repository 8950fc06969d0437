/**
 * Invitations to post or hand over (issue 21), on the front-desk page: people a draw selected who have no email or
 * textable phone (a letter by post, collect at the clinic, or a phone on a hub that cannot text). Each row: who,
 * their registration number, how they are reached (address, phone), when the invitation expires; a button prints
 * the letter (the hub renders it in the person's language; it carries no link or secret) and another marks it
 * printed, posted or handed over (the hub audits it, naming the staff member). When the person calls or comes in,
 * staff find them by the registration number and book for them within the rules with this invitation.
 */
import { announce, h } from '../shared/dom.js';
import { formatDate, t, type MessageKey } from '../shared/i18n.js';
import { adminCall } from './api.js';
import { failed, table } from './ui.js';

interface Letter {
  id: string;
  patientId: string;
  name: string;
  registrationNumber: string;
  channel: 'post' | 'clinic';
  why: 'chosen' | 'no-sms-gateway';
  addressLines: string[];
  phone?: string;
  invitationExpiresAt: string;
  invitationStatus: 'live' | 'used' | 'expired' | 'revoked';
  done: { at: string; how: string; by: string | null } | null;
}

/** Fetches the hub's letter page, puts its article on the page as the printable sheet and opens the print dialog. */
export async function printInvitationLetter(id: string): Promise<HTMLElement> {
  const html = (await adminCall<string>(`/admin/front-desk/invitation-letters/${encodeURIComponent(id)}/letter`)).body;
  // Parsed, not run: the page has no script, and only its article (text the hub escaped) is taken over.
  const article = new DOMParser().parseFromString(String(html), 'text/html').querySelector('article.invitation-letter');
  if (!article) throw new Error('the hub answered no letter');
  document.getElementById('print-sheet')?.remove();
  const sheet = h('div', { id: 'print-sheet', class: 'print-sheet letter' });
  sheet.append(document.importNode(article, true));
  document.body.append(sheet);
  document.body.classList.add('printing-sheet');
  window.addEventListener('afterprint', () => document.body.classList.remove('printing-sheet'), { once: true });
  window.print();
  return sheet;
}

/** The section: pending invitations (or all), print and mark-done per row. */
export function invitationLettersSection(open: (patientId: string) => void): HTMLElement {
  const list = h('div', { id: 'letters-list' });
  const status = h('div', { id: 'letters-status' });
  let showAll = false;
  const refresh = (message?: string): void => {
    if (message) status.replaceChildren(announce(message));
    list.replaceChildren(announce(t('app.loading')));
    adminCall<{ letters: Letter[] }>(`/admin/front-desk/invitation-letters?state=${showAll ? 'all' : 'pending'}`).then(({ body }) => {
      list.replaceChildren(body.letters.length ? table('letters-table', t('letters.caption'),
        [{ label: t('desk.name') }, { label: t('desk.regNumber') }, { label: t('letters.channel') }, { label: t('desk.address') }, { label: t('letters.phone') }, { label: t('letters.expires') }, { label: t('desk.status') }, { label: t('desk.actions') }],
        body.letters.map((l) => [
          h('button', { type: 'button', class: 'secondary', onclick: () => open(l.patientId) }, l.name),
          h('span', { class: 'mono' }, l.registrationNumber),
          `${t(`desk.by.${l.channel}` as MessageKey)}${l.why === 'no-sms-gateway' ? ` (${t('letters.noSms')})` : ''}`,
          l.channel === 'post' ? l.addressLines.join(', ') : '',
          l.phone ?? '',
          formatDate(l.invitationExpiresAt, true),
          l.done ? t('letters.done', { how: t(`letters.how.${l.done.how}` as MessageKey), when: formatDate(l.done.at, true) }) : t(`letters.st.${l.invitationStatus}` as MessageKey),
          actions(l, status, refresh),
        ])) : announce(t('letters.none')));
    }, (e: unknown) => list.replaceChildren(failed(e)));
  };
  const toggle = h('button', { type: 'button', class: 'secondary', id: 'letters-toggle', 'aria-pressed': 'false', onclick: () => {
    showAll = !showAll;
    toggle.setAttribute('aria-pressed', String(showAll));
    toggle.textContent = t(showAll ? 'letters.showPending' : 'letters.showAll');
    refresh();
  } }, t('letters.showAll'));
  refresh();
  return h('section', { id: 'invitation-letters' },
    h('h2', {}, t('letters.title')),
    h('p', {}, t('letters.intro')),
    h('div', { class: 'desk-row' }, h('button', { type: 'button', class: 'secondary', onclick: () => refresh() }, t('letters.refresh')), toggle),
    status, list);
}

function actions(l: Letter, status: HTMLElement, refresh: (m?: string) => void): Node {
  const fail = (e: unknown): void => void status.replaceChildren(failed(e));
  const box = h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'secondary print-letter', 'aria-label': `${t('letters.print')}: ${l.name}`, onclick: () => void printInvitationLetter(l.id).catch(fail) }, t('letters.print')));
  if (!l.done && l.invitationStatus === 'live') {
    const how = l.channel === 'post' ? 'posted' : 'handed-over';
    for (const x of [how, 'printed'] as const) {
      box.append(h('button', { type: 'button', class: `mark-${x}`, 'aria-label': `${t(`letters.mark.${x}` as MessageKey)}: ${l.name}`, onclick: () => {
        adminCall(`/admin/front-desk/invitation-letters/${encodeURIComponent(l.id)}/done`, { body: { how: x } })
          .then(() => refresh(t('letters.marked', { name: l.name, how: t(`letters.how.${x}` as MessageKey) })), fail);
      } }, t(`letters.mark.${x}` as MessageKey)));
    }
  }
  return box;
}
