/**
 * The sign-up and booking app. Sections by URL fragment:
 *   #home, #assistant ("am I eligible, where, when"), #register, #family (register a family member), #status, #invitation/<ticket> (claim),
 *   #waiting (waiting room), #find (choose a time), #hold, #booked (confirmation), #manage (signed in),
 *   #offer/<token> (the place held after a clinic closure: keep it, choose another time, or decline).
 * It talks to the hub only through its public sign-up, waiting-room, SMART and FHIR APIs.
 */
import { hubBase } from '../shared/api.js';
import { loadAppConfig } from '../shared/config.js';
import { announce, h, languagePicker, render } from '../shared/dom.js';
import { detectLanguage, t, type MessageKey } from '../shared/i18n.js';
import { assistantView } from './assistant-view.js';
import { bookedView, holdView } from './booked-view.js';
import { holdSlot } from './booking.js';
import { claimView } from './claim-view.js';
import type { AppContext, SignupConfig } from './context.js';
import { findView } from './find-view.js';
import { manageView } from './manage-view.js';
import { offerView } from './offer-view.js';
import { registerView } from './register-view.js';
import { hasSession, isRedirectBack, resume, type SmartClient } from './session.js';
import { liveClaim, load, save } from './state.js';
import { statusView } from './status-view.js';
import { waitingView } from './waiting-view.js';

const NAV: Array<{ hash: string; label: MessageKey }> = [
  { hash: '#home', label: 'signup.navHome' },
  { hash: '#assistant', label: 'asst.nav' },
  { hash: '#register', label: 'signup.navRegister' },
  { hash: '#status', label: 'signup.navStatus' },
  { hash: '#manage', label: 'signup.navManage' },
];

let app: AppContext;
let client: SmartClient | undefined;
let signInFailure: string | undefined;
let leaving: Array<() => void> = [];

function homeView(): Node[] {
  const claim = liveClaim();
  return [
    h('h2', {}, t('signup.title')),
    h('p', {}, t('signup.intro')),
    h('p', {}, h('a', { href: '#register', class: 'button' }, t('reg.title')), h('a', { href: '#assistant', class: 'button secondary' }, t('asst.nav')), h('a', { href: '#status', class: 'button secondary' }, t('signup.navStatus'))),
    claim ? h('p', {}, h('a', { href: app.cfg.waitingRoomEventId ? '#waiting' : '#find', class: 'button' }, t('signup.continueBooking'))) : h('p', {}, t('signup.haveInvitation')),
  ];
}

/** A new booking: hold the place with the claimed invitation, then show it for confirmation. */
function bookingFind(): Node[] {
  const claim = liveClaim();
  if (!claim) return [h('h2', {}, t('find.title')), announce(t('wait.noInvitation'), 'alert')];
  const preferred = sessionStorage.getItem('vaxhub.signup.slot') ?? undefined;
  return findView(app, {
    // The last searched postal code, else the one registered with on this device.
    initialPostalCode: sessionStorage.getItem('vaxhub.signup.postal') || load('registrant')?.postalCode || undefined,
    preferredSlotId: preferred,
    async pick(clinic, slot) {
      sessionStorage.setItem('vaxhub.signup.postal', (document.getElementById('find-near') as HTMLInputElement | null)?.value ?? '');
      const held = await holdSlot(app.cfg.fhirBaseUrl, slot.slotId);
      save('hold', {
        appointmentId: held.appointment.id!, expiresAt: held.expiresAt, idempotencyKey: crypto.randomUUID(),
        slot: { slotId: slot.slotId, start: slot.start, end: slot.end, locationName: clinic.name, address: clinic.address, productCvx: slot.productCvx, productName: slot.productName, timeZone: clinic.timeZone },
      });
      app.go('#hold');
    },
  });
}

function section(hash: string): Node[] {
  if (hash.startsWith('#invitation/')) return claimView(app, decodeURIComponent(hash.slice('#invitation/'.length)));
  if (hash.startsWith('#offer/')) return offerView(app, decodeURIComponent(hash.slice('#offer/'.length)));
  switch (hash) {
    case '#assistant': return assistantView(app);
    case '#register': return registerView(app, false);
    case '#family': return load('registrant') ? registerView(app, true) : registerView(app, false);
    case '#status': return statusView(app);
    case '#waiting': return waitingView(app);
    case '#find': return bookingFind();
    case '#hold': return holdView(app);
    case '#booked': return bookedView(app);
    case '#manage': return manageView(app, client, signInFailure);
    default: return homeView();
  }
}

function draw(): void {
  for (const fn of leaving) fn();
  leaving = [];
  document.title = t('signup.title');
  render('app-title', t('signup.title'));
  render('header-tools', languagePicker(() => draw()));
  const current = location.hash || '#home';
  render('nav', h('nav', { class: 'tabs', 'aria-label': t('signup.nav') },
    h('ul', {}, ...NAV.map((n) => h('li', {}, h('a', { href: n.hash, 'aria-current': current === n.hash || (n.hash === '#register' && current === '#family') ? 'page' : undefined }, t(n.label)))))));
  render('main', ...section(current));
}

async function start(): Promise<void> {
  detectLanguage();
  const cfg = (await loadAppConfig()) as SignupConfig;
  app = {
    cfg,
    hub: hubBase(cfg.fhirBaseUrl),
    go(hash) {
      if (location.hash === hash) draw();
      else location.hash = hash;
      document.getElementById('main')?.focus();
    },
    redraw: () => draw(),
    onLeave: (fn) => leaving.push(fn),
  };
  // A SMART Scheduling Links deep link (?slot=) remembers the chosen time for after the invitation is claimed.
  const deepSlot = new URLSearchParams(location.search).get('slot');
  if (deepSlot) sessionStorage.setItem('vaxhub.signup.slot', deepSlot);
  if (hasSession(cfg)) {
    const back = isRedirectBack();
    try {
      client = await resume();
    } catch (e) {
      signInFailure = e instanceof Error ? e.message : String(e);
    }
    if (back) location.hash = '#manage';
  }
  draw();
  window.addEventListener('hashchange', () => {
    draw();
    document.getElementById('main')?.focus();
  });
}

start().catch((e: unknown) => {
  render('main', announce(t('app.error', { message: e instanceof Error ? e.message : String(e) }), 'alert'));
});
