/**
 * Finds English on a page or in a mail that should be in another language (issue 22, item 4): the hub's own
 * English sentences, from every catalogue the public sees (the apps' messages, the sign-in and consent pages, the
 * public mail, the waiting room's mail, the vaccine names), looked for as whole words in the text. A sentence is
 * cut at its placeholders ('{date}') and plural forms, and a piece is left out when the other language writes it
 * the same way (brand and product names such as 'SMART Health Card', 'SHINGRIX', 'vaxhub').
 */
import { PAGE_TEXT } from '../../src/auth/page-text.js';
import { publicMailCatalogue } from '../../src/notify/public-mail.js';
import { ADMISSION_MAIL } from '../../src/scheduling/opening-night/mail-renderers.js';
import catalogueJson from '../../profiles/vaccine-products.json' with { type: 'json' };
import namesJson from '../../profiles/vaccine-names.json' with { type: 'json' };
import { catalogue, type Language } from '../../smart-apps/shared/i18n.js';
import { vaccineName } from '../../smart-apps/shared/fhir-text.js';

type Lang = Exclude<Language, 'en'>;

/** Every English text the public can be shown, each with its translation into `lang`. */
function pairs(lang: Lang): Array<{ en: string; other: string }> {
  const out: Array<{ en: string; other: string }> = [];
  for (const e of Object.values(catalogue())) out.push({ en: e.en, other: e[lang] });
  for (const e of Object.values(PAGE_TEXT)) out.push({ en: e.en, other: e[lang] });
  const mail = publicMailCatalogue();
  for (const k of Object.keys(mail.en)) out.push({ en: mail.en[k]!, other: mail[lang][k]! });
  out.push({ en: ADMISSION_MAIL.en.subject, other: ADMISSION_MAIL[lang].subject }, { en: ADMISSION_MAIL.en.text, other: ADMISSION_MAIL[lang].text });
  const codes = new Set([...catalogueJson.products.map((p) => p.cvx), ...Object.values(namesJson).flatMap((t) => (typeof t === 'object' ? Object.keys(t) : []))]);
  for (const cvx of codes) {
    const en = vaccineName(cvx, 'en');
    if (en) out.push({ en, other: vaccineName(cvx, lang) ?? '' });
  }
  return out;
}

/** Removes ICU plural blocks and {placeholders}, leaving the literal pieces between them. */
function pieces(text: string): string[] {
  return text
    .replace(/\{\w+, plural,(?:[^{}]|\{[^{}]*\})*\}/g, '\u0000')
    .split(/\{\w+\}|\u0000|\n|[:;()·]/)
    .map((p) => p.trim().replace(/^[\s,.!?…'"-]+|[\s,.!?…'"-]+$/g, ''))
    .filter((p) => /\p{L}/u.test(p));
}

const cache = new Map<Lang, string[]>();

/** The English pieces to look for in text meant to be in `lang`. */
export function englishPieces(lang: Lang): string[] {
  const known = cache.get(lang);
  if (known) return known;
  const all = pairs(lang);
  const translated = all.map((p) => p.other).join('\n');
  const found = new Set<string>();
  for (const { en, other } of all) {
    if (!en || en === other) continue;
    for (const piece of pieces(en)) {
      // A single short word ('Map', 'Lot') is too likely to be a name or a code; longer pieces are sentences.
      if (piece.length < 5) continue;
      // Written the same way in the translation: a name, not a leak.
      if (wholeWord(piece).test(translated)) continue;
      found.add(piece);
    }
  }
  const list = [...found].sort((a, b) => b.length - a.length);
  cache.set(lang, list);
  return list;
}

function wholeWord(piece: string): RegExp {
  return new RegExp(`(?<![\\p{L}\\p{N}])${piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\p{L}\\p{N}])`, 'u');
}

/**
 * The English pieces found in `text` (none expected), minus the `allowed` ones (proper names in the test's own
 * data). Each is reported with a little of the text around it.
 */
export function englishLeaks(text: string, lang: Lang, where: string, allowed: string[] = []): string[] {
  const leaks: string[] = [];
  for (const piece of englishPieces(lang)) {
    if (allowed.some((a) => a.includes(piece))) continue;
    const m = wholeWord(piece).exec(text);
    if (m) leaks.push(`${where}: "${piece}" in "…${text.slice(Math.max(0, m.index - 30), m.index + piece.length + 30).replace(/\s+/g, ' ')}…"`);
  }
  return leaks;
}

/** What a person reads on the page: its visible text, title, and the labels of what they touch or hear. */
export async function pageWords(page: { evaluate<T>(fn: () => T): Promise<T> }): Promise<string> {
  return page.evaluate(() => {
    const attrs = Array.from(document.querySelectorAll('[aria-label], [title], [alt], [placeholder], [aria-description]'))
      .flatMap((el) => ['aria-label', 'title', 'alt', 'placeholder', 'aria-description'].map((a) => el.getAttribute(a) ?? ''));
    const options = Array.from(document.querySelectorAll('option')).map((o) => o.textContent ?? '');
    return [document.title, document.body.innerText, ...attrs, ...options].join('\n');
  });
}
