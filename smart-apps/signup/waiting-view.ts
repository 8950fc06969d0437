/**
 * The waiting room (/waiting-room/join and /status): the person's place, how many are ahead and the hub's ETA,
 * which it computes from the measured outflow (shown as "not known yet" until there is one, never invented).
 * The place is bound to the claimed invitation, so a reload, a return visit or a second device gets the same
 * place; the queue token is also kept on this device. Polls as often as the hub's pollAfterSeconds says.
 * When the hub mails people on admission, the page says they may leave (the mail links back here).
 */
import { call, HubError } from '../shared/api.js';
import { announce, h } from '../shared/dom.js';
import { formatTime, language, t } from '../shared/i18n.js';
import { errorText, type AppContext } from './context.js';
import { liveClaim, load, save } from './state.js';

export interface QueueStatus {
  state: 'pre-queue' | 'waiting' | 'paused' | 'admitted';
  position: number | null;
  ahead: number | null;
  etaSeconds: number | null;
  pollAfterSeconds: number;
  admitted: boolean;
  opensAt: string;
  /** The hub will email this place when it is admitted (absent from older hubs: the app's setting decides). */
  notifyOnAdmission?: boolean;
}

function etaText(s: QueueStatus): string {
  if (s.etaSeconds === null) return t('wait.etaUnknown');
  if (s.etaSeconds < 60) return t('wait.etaUnder');
  return t('wait.etaMinutes', { n: Math.round(s.etaSeconds / 60) });
}

/** A time in the next minutes (the session's end): on the person's own clock. */
function clock(iso: string | Date): string {
  return formatTime(new Date(iso).toISOString());
}

export function waitingView(app: AppContext): Node[] {
  const claim = liveClaim();
  const eventId = app.cfg.waitingRoomEventId;
  if (!claim) return [h('h2', {}, t('wait.title')), announce(t('wait.noInvitation'), 'alert')];
  if (!eventId) {
    queueMicrotask(() => app.go('#find'));
    return [];
  }
  const facts = h('dl', { class: 'facts queue-facts', id: 'queue-facts' });
  const live = h('div', { role: 'status', id: 'queue-state' }, t('wait.joining'));
  const action = h('div', { id: 'queue-action' });
  // Whether the person may leave: the hub says so per place (mail on, and a place of a claimed invitation).
  const adviceText = (notify: boolean): string => (notify ? t('wait.mayLeave') : t('wait.keep'));
  const advice = h('p', { class: 'hint', id: 'queue-advice' }, adviceText(app.cfg.notifyOnAdmission));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastState: string | undefined;
  app.onLeave(() => clearTimeout(timer));

  const show = (s: QueueStatus): void => {
    facts.replaceChildren(
      h('dt', {}, t('wait.position')), h('dd', { id: 'queue-position' }, s.position === null ? '—' : String(s.position)),
      h('dt', {}, t('wait.ahead')), h('dd', { id: 'queue-ahead' }, s.ahead === null ? '—' : String(s.ahead)),
      h('dt', {}, t('wait.eta')), h('dd', { id: 'queue-eta' }, s.admitted ? '—' : etaText(s)),
    );
    const notify = s.notifyOnAdmission ?? app.cfg.notifyOnAdmission;
    advice.textContent = s.admitted && notify ? '' : adviceText(notify);
    // The live region speaks only when the situation changes, not at every poll.
    if (s.state !== lastState) {
      lastState = s.state;
      live.textContent =
        s.state === 'admitted' ? t('wait.admitted') : s.state === 'pre-queue' ? t('wait.preQueue', { time: clock(s.opensAt) }) : s.state === 'paused' ? t('wait.paused') : t('wait.updated', { time: clock(new Date()) });
      if (s.admitted) {
        const go = h('a', { href: '#find', class: 'button', id: 'choose-appointment' }, t('wait.choose'));
        action.replaceChildren(go);
        go.focus();
      }
    }
  };

  const poll = async (): Promise<void> => {
    const queue = load('queue');
    let s: QueueStatus | undefined;
    if (queue?.eventId === eventId) {
      try {
        s = (await call<QueueStatus>(`${app.hub}/waiting-room/status`, { headers: { 'X-Queue-Token': queue.token } })).body;
      } catch (e) {
        // A forgotten or foreign place: join again below.
        if (!(e instanceof HubError && (e.code === 'QUEUE_TOKEN_INVALID' || e.status === 404))) throw e;
      }
    }
    if (!s) {
      // Joining with the claimed invitation: the hub answers the same place for the same person every time.
      // The language goes along so that the "it is your turn" mail is written in it.
      const joined = await call<QueueStatus & { token: string }>(`${app.hub}/waiting-room/join?event=${encodeURIComponent(eventId)}&lang=${language()}`, {
        method: 'POST', headers: { 'X-Claim-Token': claim.claimToken },
      });
      save('queue', { eventId, token: joined.body.token });
      s = joined.body;
    }
    show(s);
    if (!s.admitted) timer = setTimeout(() => void run(), Math.min(30, Math.max(2, s.pollAfterSeconds)) * 1000);
  };
  const run = async (): Promise<void> => {
    try {
      await poll();
    } catch (e) {
      live.textContent = errorText(e);
      const retry = e instanceof HubError && e.retryAfterSeconds ? e.retryAfterSeconds : 10;
      timer = setTimeout(() => void run(), retry * 1000);
    }
  };
  void run();
  return [
    h('h2', {}, t('wait.title')),
    live,
    facts,
    action,
    advice,
  ];
}
