/**
 * The hub's sign-in and consent pages: plain server-rendered HTML, no script, labelled form controls, one <main>,
 * so they work with a screen reader and without JavaScript. Every interpolated value is escaped. They speak the
 * person's language (src/auth/page-text.ts says which and holds the words); the pages reached by GET carry links
 * to the other languages.
 */
import type { ScopeGrant } from './principal.js';
import { OPERATOR_SCOPE, parseScopes } from './scopes.js';
import type { SignInAudience } from './staff-login.js';
import { escapeHtml, htmlPage } from '../http/html-page.js';
import { hasPageText, pageText, type PageKey, type PageLanguage } from './page-text.js';

export { escapeHtml };

const STYLE = `body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
label{display:block;margin-top:1rem;font-weight:600}input{font-size:1.1rem;padding:.4rem;width:100%;box-sizing:border-box}
button{font-size:1.1rem;padding:.5rem 1.2rem;margin:1rem .5rem 0 0;min-height:44px}.error{color:#a00000;font-weight:600}
.langs{text-align:right}.langs a{display:inline-block;padding:.6rem .3rem;min-height:24px}`;

function page(lang: PageLanguage, title: string, body: string, switchHref?: string): string {
  return htmlPage({ lang, title, style: STYLE, body, ...(switchHref ? { languages: { href: switchHref, label: pageText(lang, 'language') } } : {}) });
}

const hidden = (name: string, value: string): string =>
  `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;

/** A sentence with the app's name in bold (the name is escaped, then placed). */
function withClient(lang: PageLanguage, key: PageKey, clientName: string): string {
  const marker = '\u0000client\u0000';
  return escapeHtml(pageText(lang, key, { client: marker })).replace(marker, `<strong>${escapeHtml(clientName)}</strong>`);
}

const errorLine = (error?: string): string => (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '');

export function emailPage(requestId: string, clientName: string, error?: string, audience: SignInAudience = 'patient', lang: PageLanguage = 'en'): string {
  const switchHref = `login?request=${requestId}`;
  if (audience === 'staff') return staffEmailPage(requestId, clientName, error, lang, switchHref);
  return page(
    lang,
    pageText(lang, 'signInTitle'),
    `<p>${withClient(lang, 'signInIntro', clientName)}</p>
${errorLine(error)}
<form method="post" action="login">
${hidden('request', requestId)}
<label for="email">${escapeHtml(pageText(lang, 'emailOrPhone'))}</label>
<input id="email" name="email" type="text" autocomplete="username" spellcheck="false" autocapitalize="none" required>
<button type="submit">${escapeHtml(pageText(lang, 'sendCode'))}</button>
</form>`,
    switchHref,
  );
}

/** Staff sign-in: the email of a staff account only (no phone numbers). */
function staffEmailPage(requestId: string, clientName: string, error: string | undefined, lang: PageLanguage, switchHref: string): string {
  return page(
    lang,
    pageText(lang, 'staffTitle'),
    `<p>${withClient(lang, 'staffIntro', clientName)}</p>
${errorLine(error)}
<form method="post" action="login">
${hidden('request', requestId)}
<label for="email">${escapeHtml(pageText(lang, 'staffEmail'))}</label>
<input id="email" name="email" type="email" autocomplete="username" spellcheck="false" autocapitalize="none" required>
<button type="submit">${escapeHtml(pageText(lang, 'sendCode'))}</button>
</form>`,
    switchHref,
  );
}

/**
 * The code form. Its action is relative (the hub may sit behind a proxy under a path prefix), so it depends on where
 * the page is served: from POST /auth/login it is `login/verify`; re-served after a wrong code from
 * POST /auth/login/verify it must be `verify` (with `login/verify` a second try went to /auth/login/login/verify).
 * Served in answer to a POST, it has no language links (a link would lose the form); it speaks the request's language.
 */
export function codePage(requestId: string, error?: string, channel: 'email' | 'phone' | 'staff' = 'email', servedFrom: 'login' | 'verify' = 'login', lang: PageLanguage = 'en'): string {
  const where: PageKey = channel === 'phone' ? 'codeSentPhone' : channel === 'staff' ? 'codeSentStaff' : 'codeSentEmail';
  return page(
    lang,
    pageText(lang, 'codeTitle'),
    `<p>${escapeHtml(pageText(lang, where))}</p>
${errorLine(error)}
<form method="post" action="${servedFrom === 'verify' ? 'verify' : 'login/verify'}">
${hidden('request', requestId)}
<label for="code">${escapeHtml(pageText(lang, 'oneTimeCode'))}</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required>
<button type="submit">${escapeHtml(pageText(lang, 'signIn'))}</button>
</form>`,
  );
}

/** The records a kind of resource holds, in words: the person's own, or anyone's (staff, systems). */
function recordWords(lang: PageLanguage, resourceType: string, own: boolean): string {
  const key = `${own ? 'own' : 'any'}.${resourceType}`;
  return hasPageText(key) ? pageText(lang, key) : pageText(lang, own ? 'ownOther' : 'anyOther', { type: resourceType });
}

/**
 * A person-readable line for one scope (issue 22, item 7: the consent page listed `patient/Patient.rs`): what the
 * app may do ("See and change") with which records, in words and in the page's language; the raw scope is only in
 * the technical details.
 */
export function describeGrant(g: ScopeGrant, lang: PageLanguage = 'en'): string {
  const p = g.permissions as Record<string, boolean | undefined>;
  const verbs = [p.r || p.s ? pageText(lang, 'see') : '', p.c ? pageText(lang, 'add') : '', p.u ? pageText(lang, 'change') : '', p.d ? pageText(lang, 'delete') : ''].filter(Boolean);
  const said = verbs.length > 1 ? `${verbs.slice(0, -1).join(', ')} ${pageText(lang, 'and')} ${verbs.at(-1)!}` : verbs[0] ?? pageText(lang, 'use');
  const what = g.context === 'patient'
    ? recordWords(lang, g.resourceType, true)
    : pageText(lang, g.context === 'user' ? 'userRecords' : 'systemRecords', { what: recordWords(lang, g.resourceType, false) });
  const limits = Object.entries(g.restrictions).map(([k, v]) => `${k} = ${v}`).join(', ');
  const line = pageText(lang, 'grant', { verbs: said, what }) + (limits ? ` ${pageText(lang, 'onlyWhere', { limits })}` : '');
  return `${line.charAt(0).toUpperCase()}${line.slice(1)}`;
}

function contextText(lang: PageLanguage, scope: string, audience: SignInAudience): string {
  if (scope === OPERATOR_SCOPE) return pageText(lang, 'ctx.operator');
  if (audience === 'staff' && scope === 'fhirUser') return pageText(lang, 'ctx.fhirUser.staff');
  const key = `ctx.${scope}`;
  return hasPageText(key) ? pageText(lang, key) : scope;
}

export function consentPage(requestId: string, clientName: string, scope: string, audience: SignInAudience = 'patient', lang: PageLanguage = 'en'): string {
  const parsed = parseScopes(scope);
  // In words first; the scopes as the app asked for them only as technical detail, folded away.
  const items = [...parsed.grants.map((g) => describeGrant(g, lang)), ...[...parsed.context].map((c) => contextText(lang, c, audience))].map((x) => `<li>${escapeHtml(x)}</li>`);
  const raw = [...parsed.grants.map((g) => g.raw), ...parsed.context].map((x) => `<code>${escapeHtml(x)}</code>`).join(' ');
  return page(
    lang,
    pageText(lang, 'consentTitle'),
    `<p>${withClient(lang, 'consentAsks', clientName)}</p>
<ul>${items.join('\n')}</ul>
<details><summary>${escapeHtml(pageText(lang, 'technical'))}</summary><p>${raw}</p></details>
<form method="post" action="consent">
${hidden('request', requestId)}
<button type="submit" name="decision" value="approve">${escapeHtml(pageText(lang, 'allow'))}</button>
<button type="submit" name="decision" value="deny">${escapeHtml(pageText(lang, 'deny'))}</button>
</form>`,
    `consent?request=${requestId}`,
  );
}

export function errorPage(message: string, lang: PageLanguage = 'en'): string {
  return page(lang, pageText(lang, 'errorTitle'), `<p class="error" role="alert">${escapeHtml(message)}</p>
<p>${escapeHtml(pageText(lang, 'errorNext'))}</p>`);
}
