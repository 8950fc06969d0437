/**
 * The shell of the hub's server-made HTML pages (sign-in and consent, follow-up check-ins): one <main> with the
 * title as its <h1>, the page's language on <html>, and, on pages reached by GET, links to the same page in the
 * other languages. No script. Pages carry one-time codes or tokens in their URLs, so they are never indexed and
 * never leak their address to another site as a referrer.
 */
import { LANGUAGE_NAMES, PAGE_LANGUAGES, type PageLanguage } from '../auth/page-text.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** `href` with `lang=` added as its last query parameter. */
function withLanguage(href: string, lang: PageLanguage): string {
  return `${href}${href.includes('?') ? '&' : '?'}lang=${lang}`;
}

/** Links to the same page (`href`, without a `lang` parameter) in the other languages; `label` names the list. */
function languageLinks(lang: PageLanguage, href: string, label: string): string {
  const others = PAGE_LANGUAGES.filter((l) => l !== lang)
    .map((l) => `<a href="${escapeHtml(withLanguage(href, l))}" lang="${l}" hreflang="${l}">${escapeHtml(LANGUAGE_NAMES[l])}</a>`);
  return `<nav aria-label="${escapeHtml(label)}" class="langs">${others.join(' · ')}</nav>`;
}

export interface HtmlPage {
  lang: PageLanguage;
  title: string;
  /** The page's stylesheet (trusted text, not escaped). */
  style: string;
  /** The page's content after its <h1> (already escaped HTML). */
  body: string;
  /** For pages reached by GET: the page's address and the label of its language links. */
  languages?: { href: string; label: string };
}

export function htmlPage(p: HtmlPage): string {
  return `<!doctype html>
<html lang="${p.lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">
<title>${escapeHtml(p.title)} – vaxhub</title>
<style>${p.style}</style>
</head>
<body>${p.languages ? `\n<header>${languageLinks(p.lang, p.languages.href, p.languages.label)}</header>` : ''}
<main>
<h1>${escapeHtml(p.title)}</h1>
${p.body}
</main></body></html>`;
}
