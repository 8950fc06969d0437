/**
 * Tiny DOM helpers: elements are built with text nodes only (never innerHTML with data), so nothing a
 * record or a link contains can inject markup.
 */
import { LANGUAGES, language, setLanguage, t, type Language } from './i18n.js';

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | ((e: Event) => void) | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** Replaces the contents of the element with the given id. */
export function render(id: string, ...children: Child[]): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new TypeError(`no #${id} on the page`);
  el.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
  return el;
}

/** A labelled language selector; `onChange` re-renders the page in the new language. */
export function languagePicker(onChange: () => void): HTMLElement {
  const select = h(
    'select',
    { id: 'lang', onchange: (e) => {
      setLanguage((e.target as HTMLSelectElement).value as Language);
      onChange();
    } },
    ...(Object.entries(LANGUAGES) as Array<[Language, string]>).map(([code, name]) =>
      h('option', { value: code, lang: code, selected: code === language() }, name),
    ),
  );
  return h('div', { class: 'lang' }, h('label', { for: 'lang' }, t('app.language')), select);
}

/** A polite live region message (screen readers announce it). */
export function announce(message: string, kind: 'status' | 'alert' = 'status'): HTMLElement {
  return h('p', { role: kind, class: kind === 'alert' ? 'error' : 'status' }, message);
}

/** A labelled form field (label + input, hint linked by aria-describedby). */
export function field(id: string, label: string, input: Attrs, hint?: string): HTMLElement {
  const hintId = hint ? `${id}-hint` : undefined;
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { id: hintId!, class: 'hint' }, hint) : null,
    h('input', { id, name: id, ...input, 'aria-describedby': hintId }),
  );
}

/** Shows an image full-screen in a modal dialog (large, high contrast; Escape or the button closes it). */
export function showFullScreenImage(src: string, alt: string, title: string): HTMLDialogElement {
  const close = h('button', { type: 'button', class: 'close' }, t('app.close'));
  const dialog = h(
    'dialog',
    { class: 'fullscreen-qr', 'aria-labelledby': 'qr-title' },
    h('h2', { id: 'qr-title' }, title),
    h('img', { src, alt }),
    close,
  );
  close.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
  return dialog;
}
