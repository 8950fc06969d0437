/**
 * The operator console: sign in with the operator token (checked against the hub), then sections by fragment:
 * #supply, #draws, #live (opening night), #sync (registries and EHRs), #audit.
 */
import { loadAppConfig } from '../shared/config.js';
import { announce, field, h, languagePicker, render } from '../shared/dom.js';
import { detectLanguage, t, type MessageKey } from '../shared/i18n.js';
import { adminCall, setHub, setToken, token } from './api.js';
import { auditView } from './audit-view.js';
import { drawsView } from './draws-view.js';
import { liveView } from './live-view.js';
import { supplyView } from './supply-view.js';
import { syncView } from './sync-view.js';

const SECTIONS: Array<{ hash: string; label: MessageKey }> = [
  { hash: '#supply', label: 'admin.navSupply' },
  { hash: '#draws', label: 'admin.navDraws' },
  { hash: '#live', label: 'admin.navLive' },
  { hash: '#sync', label: 'admin.navSync' },
  { hash: '#audit', label: 'admin.navAudit' },
];

let leaving: Array<() => void> = [];
let refused = false;

function signInPage(): Node[] {
  const form = h('form', { id: 'token-form' },
    field('admin-token', t('admin.token'), { type: 'password', autocomplete: 'off', required: true }),
    h('button', { type: 'submit' }, t('admin.signIn')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setToken((document.getElementById('admin-token') as HTMLInputElement).value.trim());
    // A cheap operator-only read proves the token before any section loads.
    adminCall('/admin/windows').then(
      () => {
        refused = false;
        if (!location.hash) location.hash = '#live';
        draw();
      },
      () => {
        setToken(undefined);
        refused = true;
        draw();
      },
    );
  });
  return [h('p', {}, t('admin.intro')), refused ? announce(t('admin.refused'), 'alert') : null, form].filter((x): x is HTMLElement => !!x);
}

function section(hash: string): Node[] {
  switch (hash) {
    case '#draws': return drawsView();
    case '#live': return liveView((fn) => leaving.push(fn));
    case '#sync': return syncView();
    case '#audit': return auditView();
    default: return supplyView();
  }
}

function draw(): void {
  for (const fn of leaving) fn();
  leaving = [];
  document.title = t('admin.title');
  document.getElementById('main')?.classList.add('wide');
  render('app-title', t('admin.title'));
  const signedIn = !!token();
  render('header-tools', languagePicker(() => draw()),
    signedIn ? h('button', { type: 'button', class: 'secondary', onclick: () => { setToken(undefined); draw(); } }, t('admin.signOut')) : null);
  const current = SECTIONS.find((s) => s.hash === location.hash) ?? SECTIONS[0]!;
  render('nav', signedIn ? h('nav', { class: 'tabs', 'aria-label': t('admin.nav') },
    h('ul', {}, ...SECTIONS.map((s) => h('li', {}, h('a', { href: s.hash, 'aria-current': s === current ? 'page' : undefined }, t(s.label)))))) : null);
  render('main', ...(signedIn ? section(current.hash) : signInPage()));
}

async function start(): Promise<void> {
  detectLanguage();
  setHub((await loadAppConfig()).fhirBaseUrl);
  draw();
  window.addEventListener('hashchange', () => {
    draw();
    document.getElementById('main')?.focus();
  });
}

start().catch((e: unknown) => render('main', announce(t('app.error', { message: e instanceof Error ? e.message : String(e) }), 'alert')));
