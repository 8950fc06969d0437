/**
 * The patient wallet: sign in (SMART standalone launch), then three sections chosen by the URL fragment:
 * #history (vaccinations and appointments, and "I had a reaction" about a dose: #reaction/<id>), #due (what's due
 * next, from the hub's forecast), #card (health card file and QR), #links (SMART Health Links).
 */
import type { SmartClient as Client } from './session.js';
import type { Patient } from 'fhir/r4';
import { loadAppConfig, type AppConfig } from '../shared/config.js';
import { announce, h, languagePicker, render } from '../shared/dom.js';
import { detectLanguage, formatDate, t } from '../shared/i18n.js';
import { cardView } from './card-view.js';
import { historyView, loadRecord, type PatientRecord } from './history-view.js';
import { patientName } from '../shared/fhir-text.js';
import { linksView } from './links-view.js';
import { dueView, loadForecast } from './due-view.js';
import type { ImmunizationRecommendationRecommendation } from 'fhir/r4';
import { reactionView } from './reaction-view.js';
import { followupChoice } from '../shared/followup-choice.js';
import { authorizedFetch, hasSession, resume, signIn, signOut } from './session.js';

const SECTIONS = [
  { hash: '#history', label: 'nav.history' },
  { hash: '#due', label: 'nav.due' },
  { hash: '#card', label: 'nav.card' },
  { hash: '#links', label: 'nav.links' },
] as const;

let cfg: AppConfig;
let client: Client | undefined;
let record: PatientRecord | undefined;
let failure: string | undefined;
/** Today's forecast, read once per visit of the section (undefined while loading or when it could not be read). */
let forecast: { recs?: ImmunizationRecommendationRecommendation[]; loading: boolean; failed: boolean } | undefined;
/** Said once at the top of the next page drawn (the reaction report's thanks). */
let notice: string | undefined;

function header(): void {
  document.title = t('app.wallet');
  render('app-title', t('app.wallet'));
  render(
    'header-tools',
    languagePicker(() => draw()),
    client ? h('button', { type: 'button', class: 'secondary', onclick: () => signOut() }, t('signin.out')) : null,
  );
}

function signInPage(): void {
  render(
    'main',
    h('p', {}, t('signin.intro')),
    failure ? announce(t('signin.failed', { message: failure }), 'alert') : null,
    h('button', { type: 'button', id: 'sign-in', onclick: () => void signIn(cfg).catch((e: unknown) => {
      failure = e instanceof Error ? e.message : String(e);
      draw();
    }) }, t('signin.button')),
  );
}

function currentSection(): (typeof SECTIONS)[number] {
  return SECTIONS.find((s) => s.hash === location.hash) ?? SECTIONS[0];
}

function walletPage(c: Client, r: PatientRecord): void {
  const section = currentSection();
  const p: Patient = r.patient;
  const nav = h(
    'nav',
    { class: 'tabs', 'aria-label': t('nav.label') },
    h('ul', {}, ...SECTIONS.map((s) => h('li', {}, h('a', { href: s.hash, 'aria-current': s === section ? 'page' : undefined }, t(s.label))))),
  );
  // #reaction/<Immunization id>: the "I had a reaction" form about that dose, within the vaccinations section.
  const reactingTo = /^#reaction\/(.+)$/.exec(location.hash)?.[1];
  const dose = reactingTo ? r.immunizations.find((i) => i.id === decodeURIComponent(reactingTo)) : undefined;
  const body = dose
    ? reactionView(c, dose, (saved) => {
      r.adverseEvents.push(saved);
      notice = t('reaction.sent');
      location.hash = '#history';
    }, () => { location.hash = '#history'; })
    : section.hash === '#card' ? cardView(c, p.id!) : section.hash === '#links' ? linksView(c, p.id!) : section.hash === '#due' ? duePage(c, p.id!) : [...historyView(r, cfg.timeZone), followupChoice((init) => authorizedFetch(c, `/followups/Patient/${encodeURIComponent(p.id!)}/preference`, init ? { ...init, headers: { 'content-type': 'application/json' } } : {}), 'wallet')];
  const said = notice;
  notice = undefined;
  render(
    'main',
    h('p', { id: 'patient' }, h('strong', {}, t('patient.greeting', { name: patientName(p) })), p.birthDate ? ` · ${t('patient.born', { date: formatDate(p.birthDate) })}` : ''),
    nav,
    said ? announce(said) : null,
    ...body,
  );
  if (dose) document.getElementById('reaction-title')?.focus();
}

/** The due section: loads the forecast on first view, then draws it (today as the browser counts days). */
function duePage(c: Client, patientId: string): HTMLElement[] {
  if (!forecast) {
    forecast = { loading: true, failed: false };
    loadForecast(c, patientId)
      .then((recs) => {
        forecast = { recs, loading: false, failed: false };
      })
      .catch(() => {
        forecast = { loading: false, failed: true };
      })
      .finally(() => {
        if (currentSection().hash === '#due') draw();
      });
  }
  if (forecast.loading) return [h('p', { role: 'status' }, t('app.loading'))];
  const d = new Date();
  const today = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  return dueView(forecast.failed ? undefined : forecast.recs, today);
}

function draw(): void {
  header();
  if (client && record) walletPage(client, record);
  else signInPage();
}

async function start(): Promise<void> {
  detectLanguage();
  cfg = await loadAppConfig();
  if (hasSession(cfg)) {
    try {
      client = await resume();
      record = await loadRecord(client);
    } catch (e) {
      client = undefined;
      failure = e instanceof Error ? e.message : String(e);
      sessionStorage.clear();
    }
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
