/**
 * The hub's sign-in and consent pages: plain server-rendered HTML, no script, labelled form controls, one <main>,
 * so they work with a screen reader and without JavaScript. Every interpolated value is escaped.
 */
import type { ScopeGrant } from './principal.js';
import { OPERATOR_SCOPE, parseScopes } from './scopes.js';
import type { SignInAudience } from './staff-login.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – vaxhub</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
label{display:block;margin-top:1rem;font-weight:600}input{font-size:1.1rem;padding:.4rem;width:100%;box-sizing:border-box}
button{font-size:1.1rem;padding:.5rem 1.2rem;margin:1rem .5rem 0 0}.error{color:#a00000;font-weight:600}</style>
</head>
<body><main>
<h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>`;
}

const hidden = (name: string, value: string): string =>
  `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;

export function emailPage(requestId: string, clientName: string, error?: string, audience: SignInAudience = 'patient'): string {
  if (audience === 'staff') return staffEmailPage(requestId, clientName, error);
  return page(
    'Sign in',
    `<p><strong>${escapeHtml(clientName)}</strong> wants to access your immunization record.
Enter the email address or phone number on your record; we will send you a one-time code.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="login">
${hidden('request', requestId)}
<label for="email">Email address or phone number</label>
<input id="email" name="email" type="text" autocomplete="username" spellcheck="false" autocapitalize="none" required>
<button type="submit">Send code</button>
</form>`,
  );
}

/** Staff sign-in: the email of a staff account only (no phone numbers). */
function staffEmailPage(requestId: string, clientName: string, error?: string): string {
  return page(
    'Staff sign-in',
    `<p><strong>${escapeHtml(clientName)}</strong> asks you to sign in as a member of this hub's staff.
Enter your staff email address; we will send you a one-time code.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="login">
${hidden('request', requestId)}
<label for="email">Staff email address</label>
<input id="email" name="email" type="email" autocomplete="username" spellcheck="false" autocapitalize="none" required>
<button type="submit">Send code</button>
</form>`,
  );
}

/**
 * The code form. Its action is relative (the hub may sit behind a proxy under a path prefix), so it depends on where
 * the page is served: from POST /auth/login it is `login/verify`; re-served after a wrong code from
 * POST /auth/login/verify it must be `verify` (with `login/verify` a second try went to /auth/login/login/verify).
 */
export function codePage(requestId: string, error?: string, channel: 'email' | 'phone' | 'staff' = 'email', servedFrom: 'login' | 'verify' = 'login'): string {
  const where = channel === 'phone' ? 'this phone number is on a patient record, a 6-digit code is on its way by text message'
    : channel === 'staff' ? 'this email address belongs to an active staff account, a 6-digit code is on its way'
    : 'this email address is on a patient record, a 6-digit code is on its way';
  return page(
    'Enter your code',
    `<p>If ${where}. It is valid for 10 minutes.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${servedFrom === 'verify' ? 'verify' : 'login/verify'}">
${hidden('request', requestId)}
<label for="code">One-time code</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required>
<button type="submit">Sign in</button>
</form>`,
  );
}

/** What a kind of record is, in words: for the person's own record, and for records of others (staff, systems). */
const RECORD_WORDS: Record<string, { own: string; any: string }> = {
  Patient: { own: 'your personal details (name, date of birth, contact details)', any: 'people\'s personal details (name, date of birth, contact details)' },
  Immunization: { own: 'your vaccinations', any: 'vaccination records' },
  ImmunizationRecommendation: { own: 'the vaccinations recommended for you', any: 'vaccination recommendations' },
  ImmunizationEvaluation: { own: 'checks of your vaccinations against the schedule', any: 'vaccination schedule checks' },
  Appointment: { own: 'your appointments', any: 'appointments' },
  Slot: { own: 'free appointment times', any: 'free appointment times' },
  Schedule: { own: 'clinic schedules', any: 'clinic schedules' },
  Location: { own: 'clinic names and addresses', any: 'clinic names and addresses' },
  Organization: { own: 'organisations such as clinics and providers', any: 'organisations such as clinics and providers' },
  Practitioner: { own: 'your staff member details', any: 'staff member details' },
  PractitionerRole: { own: 'staff roles', any: 'staff roles' },
  RelatedPerson: { own: 'people linked to your record (family, carers)', any: 'family members and carers' },
  Consent: { own: 'your consents', any: 'consents' },
  DocumentReference: { own: 'your documents, such as health cards', any: 'documents, such as health cards' },
  '*': { own: 'everything in your record', any: 'all kinds of records' },
};

/**
 * A person-readable line for one scope (issue 22, item 7: the consent page listed `patient/Patient.rs`): what the
 * app may do ("See and change") with which records, in words; the raw scope is only in the technical details.
 */
export function describeGrant(g: ScopeGrant): string {
  const p = g.permissions as Record<string, boolean | undefined>;
  const verbs = [p.r || p.s ? 'see' : '', p.c ? 'add to' : '', p.u ? 'change' : '', p.d ? 'delete' : ''].filter(Boolean);
  const said = verbs.length > 1 ? `${verbs.slice(0, -1).join(', ')} and ${verbs.at(-1)!}` : verbs[0] ?? 'use';
  const words = RECORD_WORDS[g.resourceType];
  const what = g.context === 'patient'
    ? words?.own ?? `your ${g.resourceType} records`
    : `${words?.any ?? `${g.resourceType} records`}${g.context === 'user' ? ' you are allowed to see' : ', for everyone in the system'}`;
  const limits = Object.entries(g.restrictions).map(([k, v]) => `${k} = ${v}`).join(', ');
  return `${said.charAt(0).toUpperCase()}${said.slice(1)} ${what}${limits ? ` (only where ${limits})` : ''}`;
}

const CONTEXT_TEXT: Record<string, string> = {
  openid: 'Know who you are (sign-in identity)',
  fhirUser: 'Know which patient record is yours',
  launch: 'Use the context the launching system provides',
  'launch/patient': 'Know which patient record is selected',
  offline_access: 'Keep access after you close the app, until you revoke it',
  online_access: 'Keep access while you are using the app',
  [OPERATOR_SCOPE]: 'Act as an operator of this hub: supply, draws and waves, opening night, registry and EHR sync, audit, clients and staff',
};
/** Where a staff member's reading differs from a patient's. */
const STAFF_CONTEXT_TEXT: Record<string, string> = {
  fhirUser: 'Know which staff member you are (your Practitioner record)',
};

export function consentPage(requestId: string, clientName: string, scope: string, audience: SignInAudience = 'patient'): string {
  const parsed = parseScopes(scope);
  const text = (c: string): string => (audience === 'staff' ? STAFF_CONTEXT_TEXT[c] : undefined) ?? CONTEXT_TEXT[c] ?? c;
  // In words first; the scopes as the app asked for them only as technical detail, folded away.
  const items = [...parsed.grants.map((g) => describeGrant(g)), ...[...parsed.context].map((c) => text(c))].map((x) => `<li>${escapeHtml(x)}</li>`);
  const raw = [...parsed.grants.map((g) => g.raw), ...parsed.context].map((x) => `<code>${escapeHtml(x)}</code>`).join(' ');
  return page(
    'Allow access?',
    `<p><strong>${escapeHtml(clientName)}</strong> asks for permission to:</p>
<ul>${items.join('\n')}</ul>
<details><summary>Technical details (the permissions as the app asked for them)</summary><p>${raw}</p></details>
<form method="post" action="consent">
${hidden('request', requestId)}
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}

export function errorPage(message: string): string {
  return page('Cannot continue', `<p class="error" role="alert">${escapeHtml(message)}</p>
<p>Return to the application and start again.</p>`);
}
