/**
 * The operator console: a staff member signs in (SMART standalone launch; the hub mails a one-time code), or,
 * break-glass, types the hub's operator token; an operator-only read proves the access, then sections by fragment:
 * #supply, #clinic (the day at the door), #hours (hours and closures), #draws, #live (opening night), #sync (registries
 * and EHRs), #audit, #checkout (the observation wait after a dose), #safety (serious adverse events), #outcomes (infections against
 * doses, de-identified). The header
 * shows who is signed in.
 */
import { loadAppConfig, type AppConfig } from '../shared/config.js';
import { announce, field, h, languagePicker, render } from '../shared/dom.js';
import { detectLanguage, t, type MessageKey } from '../shared/i18n.js';
import { adminCall, breakGlassToken, hasSmartSession, resume, SessionEnded, setBreakGlassToken, setHub, signIn, signOut, type Operator } from './api.js';
import { auditView } from './audit-view.js';
import { clinicDayView } from './clinic-day-view.js';
import { clinicScheduleView } from './clinic-schedule-view.js';
import { doorView } from './door-view.js';
import { checkoutView } from './checkout-view.js';
import { safetyView } from './safety-view.js';
import { outcomesView } from './outcomes-view.js';
import { drawsView } from './draws-view.js';
import { peopleView } from './people-view.js';
import { liveView } from './live-view.js';
import { supplyView } from './supply-view.js';
import { syncView } from './sync-view.js';

const SECTIONS: Array<{ hash: string; label: MessageKey }> = [
  { hash: '#supply', label: 'admin.navSupply' },
  { hash: '#people', label: 'admin.navPeople' },
  { hash: '#door', label: 'admin.navDoor' },
  { hash: '#clinic', label: 'admin.navClinicDay' },
  { hash: '#hours', label: 'admin.navSchedule' },
  { hash: '#draws', label: 'admin.navDraws' },
  { hash: '#live', label: 'admin.navLive' },
  { hash: '#sync', label: 'admin.navSync' },
  { hash: '#audit', label: 'admin.navAudit' },
  { hash: '#checkout', label: 'admin.navCheckout' },
  { hash: '#safety', label: 'admin.navSafety' },
  { hash: '#outcomes', label: 'admin.navOutcomes' },
];

let cfg: AppConfig;
let leaving: Array<() => void> = [];
let operator: Operator | undefined;
/** Why the last sign-in did not complete, shown on the sign-in page. */
let problem: string | undefined;

/** A cheap operator-only read proves the access before any section loads. */
async function proveOperator(who: Operator): Promise<void> {
  try {
    await adminCall('/admin/windows');
    operator = who;
    problem = undefined;
    if (!location.hash) location.hash = '#live';
  } catch (e) {
    operator = undefined;
    problem = who.kind === 'token' ? t('admin.refused') : t('admin.notOperator', { message: e instanceof Error ? e.message : String(e) });
    if (who.kind === 'token') setBreakGlassToken(undefined);
    else await signOut();
  }
}

function signInPage(): Node[] {
  const staff = h('button', { type: 'button', id: 'staff-sign-in', onclick: () => void signIn(cfg).catch((e: unknown) => {
    problem = t('admin.signInFailed', { message: e instanceof Error ? e.message : String(e) });
    draw();
  }) }, t('admin.staffSignIn'));
  const form = h('form', { id: 'token-form' },
    field('admin-token', t('admin.token'), { type: 'password', autocomplete: 'off', required: true }),
    h('button', { type: 'submit', class: 'secondary' }, t('admin.signIn')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setBreakGlassToken((document.getElementById('admin-token') as HTMLInputElement).value.trim());
    void proveOperator({ kind: 'token' }).then(draw);
  });
  const breakGlass = h('details', { id: 'break-glass' },
    h('summary', {}, t('admin.breakGlass')),
    h('p', {}, t('admin.breakGlassIntro')),
    form);
  return [h('p', {}, t('admin.intro')), problem ? announce(problem, 'alert') : null, staff, breakGlass].filter((x): x is HTMLElement => !!x);
}

function section(hash: string): Node[] {
  switch (hash) {
    case '#clinic': return clinicDayView();
    case '#hours': return clinicScheduleView();
    case '#draws': return drawsView();
    case '#live': return liveView((fn) => leaving.push(fn));
    case '#sync': return syncView();
    case '#audit': return auditView();
    case '#people': return peopleView();
    case '#door': return doorView((fn) => leaving.push(fn));
    case '#checkout': return checkoutView((fn) => leaving.push(fn));
    case '#safety': return safetyView();
    case '#outcomes': return outcomesView();
    default: return supplyView();
  }
}

function whoIsSignedIn(who: Operator): HTMLElement {
  return h('p', { id: 'signed-in-as', class: 'who' }, who.kind === 'staff' ? t('admin.signedInAs', { name: who.name }) : t('admin.signedInToken'));
}

function draw(): void {
  for (const fn of leaving) fn();
  leaving = [];
  document.title = t('admin.title');
  document.getElementById('main')?.classList.add('wide');
  render('app-title', t('admin.title'));
  render('header-tools', languagePicker(() => draw()),
    operator ? whoIsSignedIn(operator) : null,
    operator ? h('button', { type: 'button', id: 'sign-out', class: 'secondary', onclick: () => {
      operator = undefined;
      setBreakGlassToken(undefined);
      void signOut().then(() => {
        problem = undefined;
        history.replaceState(null, '', location.pathname);
        draw();
      });
    } }, t('admin.signOut')) : null);
  const current = SECTIONS.find((s) => s.hash === location.hash) ?? SECTIONS[0]!;
  render('nav', operator ? h('nav', { class: 'tabs', 'aria-label': t('admin.nav') },
    h('ul', {}, ...SECTIONS.map((s) => h('li', {}, h('a', { href: s.hash, 'aria-current': s === current ? 'page' : undefined }, t(s.label)))))) : null);
  render('main', ...(operator ? section(current.hash) : signInPage()));
}

async function start(): Promise<void> {
  detectLanguage();
  cfg = await loadAppConfig();
  setHub(cfg.fhirBaseUrl);
  if (hasSmartSession()) {
    try {
      const who = await resume();
      // The code and state leave the address bar once exchanged (the hash picks the section).
      if (location.search) history.replaceState(null, '', location.pathname + location.hash);
      await proveOperator(who);
    } catch (e) {
      problem = e instanceof SessionEnded ? t('admin.sessionEnded') : t('admin.signInFailed', { message: e instanceof Error ? e.message : String(e) });
    }
  } else if (breakGlassToken()) {
    await proveOperator({ kind: 'token' });
  }
  draw();
  window.addEventListener('hashchange', () => {
    draw();
    document.getElementById('main')?.focus();
  });
}

start().catch((e: unknown) => render('main', announce(t('app.error', { message: e instanceof Error ? e.message : String(e) }), 'alert')));
