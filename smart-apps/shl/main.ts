/**
 * SMART Health Link viewer (`/apps/shl/#shlink:/...`): asks who is opening the link (and the passcode when the
 * link has one), opens it, and shows each shared record: a health card with its verification result against
 * this hub's trust list (./verify-card.ts), or a live FHIR Bundle marked as unsigned. The fragment never reaches
 * a server, and neither does the card: it is verified here.
 */
import type { Bundle, Immunization, Patient } from 'fhir/r4';
import { announce, field, h, languagePicker, render } from '../shared/dom.js';
import { conceptText, patientName } from '../shared/fhir-text.js';
import { detectLanguage, formatDate, t } from '../shared/i18n.js';
import { isExpired, openLink, parseShlink, type ShlFile, type ShlPayload } from './shlink.js';
import { decodeCard, loadTrustList, verifyCard, type CardCheck } from './verify-card.js';

const RECIPIENT_KEY = 'vaxhub.recipient';
let problem: string | undefined;
let results: HTMLElement[] | undefined;

function recordSection(bundle: Bundle, status: HTMLElement): HTMLElement {
  const resources = (bundle.entry ?? []).map((e) => e.resource);
  const patient = resources.find((r): r is Patient => r?.resourceType === 'Patient');
  const doses = resources.filter((r): r is Immunization => r?.resourceType === 'Immunization');
  return h(
    'section',
    { class: 'card-result', 'aria-label': patient ? patientName(patient) : t('card.title') },
    status,
    patient ? h('h2', {}, patientName(patient)) : null,
    patient?.birthDate ? h('p', {}, t('patient.born', { date: formatDate(patient.birthDate) })) : null,
    h(
      'ul',
      { class: 'records', id: 'doses' },
      ...doses.map((d) =>
        h(
          'li',
          {},
          h('h3', {}, conceptText(d.vaccineCode)),
          h(
            'dl',
            { class: 'facts' },
            h('dt', {}, t('history.date')),
            h('dd', {}, formatDate(d.occurrenceDateTime)),
            h('dt', {}, t('history.lot')),
            h('dd', {}, d.lotNumber ?? t('history.unknown')),
            h('dt', {}, t('history.performer')),
            h('dd', {}, d.performer?.map((p) => p.actor.display).filter(Boolean).join(', ') || t('history.unknown')),
          ),
        ),
      ),
    ),
  );
}

/** One plain status per outcome; only "verified" is green, and each warning says what it means for the reader. */
function checkStatus(check: CardCheck): HTMLElement {
  const issuer = check.payload?.iss ?? '';
  switch (check.status) {
    case 'verified':
      return h('p', { class: 'ok verified', role: 'status' }, '✔ ', t('viewer.verified', { issuer: check.issuerName && check.issuerName !== 'this hub' ? `${check.issuerName} (${issuer})` : issuer }), ' · ', t('viewer.issued', { date: formatDate(new Date(check.payload!.nbf * 1000).toISOString()) }));
    case 'revoked':
      return h('p', { class: 'error revoked', role: 'alert' }, '✘ ', t('viewer.revoked'));
    case 'untrusted-issuer':
      return h('p', { class: 'error untrusted-issuer', role: 'alert' }, '⚠ ', t('viewer.untrustedIssuer', { issuer }));
    case 'revocation-unknown':
      return h('p', { class: 'error revocation-unknown', role: 'alert' }, '⚠ ', t('viewer.revocationUnknown', { issuer }));
    case 'invalid':
      return h('p', { class: 'error not-verified', role: 'alert' }, '✘ ', t('viewer.notVerified', { reason: check.reason ?? '' }));
  }
}

async function showFile(file: ShlFile, link: ShlPayload): Promise<HTMLElement[]> {
  if (file.contentType === 'application/smart-health-card') {
    const { verifiableCredential } = JSON.parse(file.content) as { verifiableCredential: string[] };
    // The hub's trust list, read once per opening; without it no card can be called verified.
    const trust = await loadTrustList().catch((e: unknown) => e as Error);
    return Promise.all(
      verifiableCredential.map(async (jws) => {
        const check: CardCheck =
          trust instanceof Error
            ? { status: 'invalid', payload: await decodeCard(jws).catch(() => undefined), reason: t('viewer.trustUnavailable', { message: trust.message }) }
            : await verifyCard(jws, trust);
        const bundle = check.payload?.vc.credentialSubject.fhirBundle;
        return bundle ? recordSection(bundle, checkStatus(check)) : checkStatus(check);
      }),
    );
  }
  if (file.contentType === 'application/fhir+json') {
    const bundle = JSON.parse(file.content) as Bundle;
    return [recordSection(bundle, h('p', { class: 'status' }, t('viewer.unsigned', { issuer: new URL(link.url).origin })))];
  }
  return [];
}

function form(link: ShlPayload): HTMLElement {
  let saved = '';
  try {
    saved = localStorage.getItem(RECIPIENT_KEY) ?? '';
  } catch {
    // no storage: the person types it
  }
  const needsPasscode = !!link.flag?.includes('P');
  const f = h(
    'form',
    { id: 'open-link' },
    field('recipient', t('viewer.recipient'), { type: 'text', required: true, autocomplete: 'name', value: saved }),
    needsPasscode ? field('passcode', t('viewer.passcode'), { type: 'password', required: true, autocomplete: 'off' }) : null,
    h('button', { type: 'submit' }, t('viewer.open')),
  );
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    const recipient = f.querySelector<HTMLInputElement>('#recipient')!.value.trim();
    const passcode = needsPasscode ? f.querySelector<HTMLInputElement>('#passcode')!.value : undefined;
    if (!recipient) return;
    try {
      localStorage.setItem(RECIPIENT_KEY, recipient);
    } catch {
      // fine: asked again next time
    }
    void (async () => {
      const outcome = await openLink(link, recipient, passcode);
      if (outcome.kind === 'wrong-passcode') problem = t('viewer.wrongPasscode', { remaining: outcome.remainingAttempts });
      else if (outcome.kind === 'gone') problem = t('viewer.gone');
      else {
        problem = undefined;
        results = (await Promise.all(outcome.files.map((file) => showFile(file, link)))).flat();
      }
      draw();
    })().catch((err: unknown) => {
      problem = t('app.error', { message: err instanceof Error ? err.message : String(err) });
      draw();
    });
  });
  return f;
}

function draw(): void {
  document.title = t('app.viewer');
  render('app-title', t('app.viewer'));
  render('header-tools', languagePicker(() => draw()));
  let link: ShlPayload | undefined;
  try {
    link = parseShlink(location.href);
  } catch (e) {
    return void render('main', announce(t('viewer.badLink', { message: e instanceof Error ? e.message : String(e) }), 'alert'));
  }
  if (!link) return void render('main', h('p', {}, t('viewer.noLink')));
  if (results) return void render('main', link.label ? h('p', {}, t('viewer.sharedLabel', { label: link.label })) : null, ...results);
  if (isExpired(link)) return void render('main', announce(t('viewer.expiredAt', { date: formatDate(new Date(link.exp! * 1000).toISOString(), true) }), 'alert'));
  render(
    'main',
    h('p', {}, t('viewer.intro')),
    link.label ? h('p', {}, h('strong', {}, t('viewer.sharedLabel', { label: link.label }))) : null,
    problem ? announce(problem, 'alert') : null,
    form(link),
  );
}

detectLanguage();
window.addEventListener('hashchange', () => {
  results = undefined;
  problem = undefined;
  draw();
});
draw();
