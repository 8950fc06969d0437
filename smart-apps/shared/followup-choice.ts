/**
 * "Send me check-ins after each vaccination": the person's choice of follow-up check-ins (issue 24), read and saved
 * at the hub's /followups/Patient/<id>/preference. The wallet calls it with its SMART token, the sign-up app's
 * booking confirmation with the claimed invitation (X-Claim-Token). A stop link in every check-in turns them off
 * too; this box then shows them off.
 */
import { announce, h } from './dom.js';
import { t } from './i18n.js';

/** Calls the preference route (GET without a body, PUT with one) with the app's credentials. */
export type PreferenceFetch = (init?: { method: 'PUT'; body: string }) => Promise<Response>;

async function problem(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { issue?: Array<{ diagnostics?: string }> };
    return body.issue?.[0]?.diagnostics ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

export function followupChoice(request: PreferenceFetch, via: 'wallet' | 'signup'): HTMLElement {
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
  void request().then(async (res) => (res.ok ? show(((await res.json()) as { optedIn: boolean }).optedIn) : fail(await problem(res))), (e: unknown) => fail(String(e)));
  box.addEventListener('change', () => {
    const wanted = box.checked;
    box.disabled = true;
    const undo = (message: string): void => {
      box.checked = !wanted;
      fail(message);
    };
    void request({ method: 'PUT', body: JSON.stringify({ optIn: wanted, via }) })
      .then(async (res) => (res.ok ? show(((await res.json()) as { optedIn: boolean }).optedIn) : undo(await problem(res))), (e: unknown) => undo(String(e)));
  });
  return h('section', { 'aria-labelledby': 'followup-title', id: 'followup' },
    h('h2', { id: 'followup-title' }, t('followup.title')),
    h('p', {}, t('followup.intro')),
    h('p', { class: 'choice' }, box, ' ', h('label', { for: 'followup-choice' }, t('followup.choice'))),
    said);
}
