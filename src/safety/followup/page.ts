/**
 * The follow-up pages, server-made HTML like the sign-in pages (src/auth/pages.ts): no script, one <main>, each group
 * of choices a fieldset with its legend, errors said at the top (linked to their question) and beside the question
 * (aria-describedby, aria-invalid), large touch targets, readable at phone width. Every interpolated value is escaped.
 */
import { escapeHtml, htmlPage } from '../../http/html-page.js';
import type { MailLanguage } from '../../notify/mail-locale.js';
import { CARE_LEVELS } from '../adverse-event.js';
import { SYMPTOMS } from '../symptoms.js';
import { FEELINGS } from './questionnaire.js';
import { followupText, type FollowupKey } from './text.js';

const STYLE = `body{font-family:system-ui,sans-serif;max-width:40rem;margin:0 auto;padding:1rem;line-height:1.5;color:#1a1a1a;background:#fff}
h1{font-size:1.5rem;line-height:1.25}fieldset{border:1px solid #767676;border-radius:.4rem;margin:1.2rem 0;padding:.6rem .9rem}
legend{font-weight:700;padding:0 .3rem}.choice{display:flex;align-items:flex-start;gap:.6rem;padding:.45rem 0;min-height:44px}
.choice input{width:1.4rem;height:1.4rem;margin:.15rem 0 0;flex:none}.choice label{flex:1}
label.block{display:block;font-weight:700;margin-top:1rem}textarea{width:100%;box-sizing:border-box;font:inherit;padding:.5rem;min-height:6rem}
button{font:inherit;font-size:1.1rem;padding:.7rem 1.4rem;min-height:48px;margin:.6rem .6rem 0 0;background:#0b5394;color:#fff;border:0;border-radius:.4rem}
button.secondary{background:#fff;color:#0b5394;border:2px solid #0b5394}.error{color:#a00000;font-weight:600}
.notice{border-left:.35rem solid #a00000;padding:.4rem .8rem;background:#fdf3f3}.summary{border:2px solid #a00000;padding:.6rem .9rem}
.langs{text-align:right}.langs a{display:inline-block;padding:.6rem .4rem;min-height:24px}a{color:#0b5394}`;

function page(lang: MailLanguage, title: string, body: string, switchHref?: string): string {
  return htmlPage({ lang, title, style: STYLE, body, ...(switchHref ? { languages: { href: switchHref, label: followupText(lang, 'language') } } : {}) });
}

const t = followupText;

export interface FormFacts {
  token: string;
  vaccine: string;
  date: string;
  errors?: Partial<Record<string, FollowupKey>>;
  values?: Record<string, unknown>;
}

function radios(lang: MailLanguage, name: 'feeling' | 'care', codes: readonly string[], f: FormFacts): string {
  const error = f.errors?.[name];
  const chosen = f.values?.[name];
  const errId = `${name}-error`;
  return `<fieldset id="${name}"${error ? ` aria-describedby="${errId}"` : ''}>
<legend>${escapeHtml(t(lang, name))}</legend>
${error ? `<p class="error" id="${errId}">${escapeHtml(t(lang, error))}</p>` : ''}
${codes.map((c) => `<div class="choice"><input type="radio" id="${name}-${c}" name="${name}" value="${c}" required${chosen === c ? ' checked' : ''}${error ? ' aria-invalid="true"' : ''}><label for="${name}-${c}">${escapeHtml(t(lang, `${name}.${c}` as FollowupKey))}</label></div>`).join('\n')}
</fieldset>`;
}

export function formPage(lang: MailLanguage, f: FormFacts): string {
  const chosen = new Set((Array.isArray(f.values?.symptoms) ? f.values.symptoms : f.values?.symptoms !== undefined ? [f.values.symptoms] : []).map(String));
  const words = typeof f.values?.words === 'string' ? f.values.words : '';
  const errs = Object.entries(f.errors ?? {});
  const summary = errs.length
    ? `<div class="summary" role="alert"><p class="error">${escapeHtml(t(lang, 'errors'))}</p><ul>${errs.map(([field, key]) => `<li><a href="#${field === 'words' ? 'words' : field}">${escapeHtml(t(lang, field as FollowupKey))}: ${escapeHtml(t(lang, key!))}</a></li>`).join('')}</ul></div>`
    : '';
  const wordsError = f.errors?.words;
  return page(lang, t(lang, 'title'), `<p>${escapeHtml(t(lang, 'intro', { vaccine: f.vaccine, date: f.date }))}</p>
<p class="notice">${escapeHtml(t(lang, 'emergency'))}</p>
${summary}
<form method="post" action="${escapeHtml(f.token)}">
<input type="hidden" name="lang" value="${lang}">
${radios(lang, 'feeling', FEELINGS, f)}
<fieldset id="symptoms">
<legend>${escapeHtml(t(lang, 'symptoms'))}</legend>
${SYMPTOMS.map((s) => `<div class="choice"><input type="checkbox" id="symptom-${s.code}" name="symptoms" value="${s.code}"${chosen.has(s.code) ? ' checked' : ''}><label for="symptom-${s.code}">${escapeHtml(s.display[lang])}</label></div>`).join('\n')}
</fieldset>
<label class="block" for="words">${escapeHtml(t(lang, 'words'))}</label>
${wordsError ? `<p class="error" id="words-error">${escapeHtml(t(lang, wordsError))}</p>` : ''}
<textarea id="words" name="words" maxlength="2000"${wordsError ? ' aria-invalid="true" aria-describedby="words-error"' : ''}>${escapeHtml(words)}</textarea>
${radios(lang, 'care', CARE_LEVELS, f)}
<button type="submit">${escapeHtml(t(lang, 'send'))}</button>
</form>
<p><a href="${escapeHtml(f.token)}/stop?lang=${lang}">${escapeHtml(t(lang, 'stopLink'))}</a></p>`, f.token);
}

export function thanksPage(lang: MailLanguage, token: string, worrying: boolean): string {
  return page(lang, t(lang, 'thanksTitle'), `<p role="status">${escapeHtml(t(lang, 'thanks'))}</p>
${worrying ? `<p>${escapeHtml(t(lang, 'thanksReview'))}</p>` : ''}
<p><a href="${escapeHtml(token)}/stop?lang=${lang}">${escapeHtml(t(lang, 'stopLink'))}</a></p>`);
}

export function alreadyPage(lang: MailLanguage, token: string): string {
  return page(lang, t(lang, 'thanksTitle'), `<p role="status">${escapeHtml(t(lang, 'already'))}</p>
<p><a href="${escapeHtml(token)}/stop?lang=${lang}">${escapeHtml(t(lang, 'stopLink'))}</a></p>`, token);
}

export function expiredPage(lang: MailLanguage): string {
  return page(lang, t(lang, 'expiredTitle'), `<p>${escapeHtml(t(lang, 'expired'))}</p>`);
}

/** The stop page: one button for this dose's check-ins, one for all of them. Served under /followup/<token>/stop. */
export function stopPage(lang: MailLanguage): string {
  return page(lang, t(lang, 'stopTitle'), `<p>${escapeHtml(t(lang, 'stopIntro'))}</p>
<form method="post" action="stop">
<input type="hidden" name="lang" value="${lang}">
<button type="submit" name="scope" value="dose">${escapeHtml(t(lang, 'stopDose'))}</button>
<button type="submit" name="scope" value="all" class="secondary">${escapeHtml(t(lang, 'stopAll'))}</button>
</form>`, 'stop');
}

export function stoppedPage(lang: MailLanguage, scope: 'dose' | 'all'): string {
  return page(lang, t(lang, 'stoppedTitle'), `<p role="status">${escapeHtml(t(lang, scope === 'all' ? 'stoppedAll' : 'stoppedDose'))}</p>`);
}
