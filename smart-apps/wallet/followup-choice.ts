/**
 * "Send me check-ins after each vaccination": the person's choice of follow-up check-ins (issue 24), read and saved
 * at the hub's /followups/Patient/<id>/preference with the wallet's token. A stop link in every check-in turns them
 * off too; this box then shows them off.
 */
import type { SmartClient as Client } from './session.js';
import { announce, h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { authorizedFetch, errorText } from './session.js';

export function followupChoice(client: Client, patientId: string): HTMLElement {
  const path = `/followups/Patient/${encodeURIComponent(patientId)}/preference`;
  const box = h('input', { type: 'checkbox', id: 'followup-choice', disabled: true }) as HTMLInputElement;
  const said = h('div', { id: 'followup-state' });
  const show = (optedIn: boolean): void => {
    box.checked = optedIn;
    box.disabled = false;
    said.replaceChildren(announce(t(optedIn ? 'followup.on' : 'followup.off')));
  };
  const fail = (message: string): void => {
    box.disabled = false;
    said.replaceChildren(announce(t('followup.failed', { message }), 'alert'));
  };
  void authorizedFetch(client, path).then(async (res) => (res.ok ? show(((await res.json()) as { optedIn: boolean }).optedIn) : fail(await errorText(res))), (e: unknown) => fail(String(e)));
  box.addEventListener('change', () => {
    const wanted = box.checked;
    box.disabled = true;
    const undo = (message: string): void => {
      box.checked = !wanted;
      fail(message);
    };
    const body = JSON.stringify({ optIn: wanted, via: 'wallet' });
    void authorizedFetch(client, path, { method: 'PUT', headers: { 'content-type': 'application/json' }, body })
      .then(async (res) => (res.ok ? show(((await res.json()) as { optedIn: boolean }).optedIn) : undo(await errorText(res))), (e: unknown) => undo(String(e)));
  });
  return h('section', { 'aria-labelledby': 'followup-title', id: 'followup' },
    h('h2', { id: 'followup-title' }, t('followup.title')),
    h('p', {}, t('followup.intro')),
    h('p', { class: 'choice' }, box, ' ', h('label', { for: 'followup-choice' }, t('followup.choice'))),
    said);
}
