/**
 * Claiming an invitation (#invitation/<ticket>, where the invitation mail's link lands): the hub mails a one-time
 * code to the invited person's own address, and the claim needs that code plus their date of birth, so a forwarded
 * link is useless to anyone else. The claim token that comes back is what $hold/$book accept (X-Claim-Token).
 */
import { call } from '../shared/api.js';
import { announce, field, h } from '../shared/dom.js';
import { formatDate, formatTime, t } from '../shared/i18n.js';
import { errorText, type AppContext } from './context.js';
import { save } from './state.js';

interface CodeAnswer {
  sentTo: string;
  codeExpiresAt: string;
}
interface ClaimAnswer {
  claimToken: string;
  claimTokenExpiresAt: string;
  patientId: string;
  ticketExpiresAt: string;
}

/** A time a few minutes ahead (the code's expiry): on the person's own clock. */
function timeOf(iso: string): string {
  return formatTime(iso);
}

export function claimView(app: AppContext, ticketId: string): Node[] {
  const ticket = encodeURIComponent(ticketId);
  const sent = h('div', { id: 'code-sent' });
  const sendButton = h('button', { type: 'button', id: 'send-code' }, t('claim.sendCode'));
  sendButton.addEventListener('click', () => {
    sendButton.disabled = true;
    call<CodeAnswer>(`${app.hub}/signup/tickets/${ticket}/code`, { method: 'POST' }).then(
      (r) => {
        sent.replaceChildren(announce(t('claim.sent', { to: r.body.sentTo, time: timeOf(r.body.codeExpiresAt) })));
        sendButton.textContent = t('claim.resend');
        sendButton.disabled = false;
        document.getElementById('claim-code')?.focus();
      },
      (e: unknown) => {
        sent.replaceChildren(announce(errorText(e), 'alert'));
        sendButton.disabled = false;
      },
    );
  });
  const result = h('div', { id: 'claim-result' });
  const form = h('form', { id: 'claim-form' },
    field('claim-code', t('claim.code'), { inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: '6', required: true }),
    field('claim-birth', t('claim.birthDate'), { type: 'date', required: true }),
    h('button', { type: 'submit' }, t('claim.submit')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const code = (document.getElementById('claim-code') as HTMLInputElement).value.trim();
    const birthDate = (document.getElementById('claim-birth') as HTMLInputElement).value;
    call<ClaimAnswer>(`${app.hub}/signup/tickets/${ticket}/claim`, { body: { code, birthDate } }).then(
      (r) => {
        save('claim', { ticketId, ...r.body });
        save('queue', undefined);
        save('hold', undefined);
        result.replaceChildren(announce(t('claim.done', { date: formatDate(r.body.ticketExpiresAt, true, app.cfg.timeZone) })));
        app.go(app.cfg.waitingRoomEventId ? '#waiting' : '#find');
      },
      (e: unknown) => {
        result.replaceChildren(announce(errorText(e), 'alert'));
        document.getElementById('claim-code')?.focus();
      },
    );
  });
  return [h('h2', {}, t('claim.title')), h('p', {}, t('claim.intro')), h('p', {}, sendButton), sent, form, result];
}
