/**
 * Plural forms as ICU writes them, `{n, plural, one {# invitation} other {# invitations}}`: the form is chosen by
 * the language's own rules (Intl.PluralRules: Spanish like English, Korean has only `other`), `=0`-style exact
 * forms first, `#` stands for the number. Shared by the apps' catalogue and the public mail (no Node imports), so
 * "1 invitations sent" or "Es válido durante 1 minutos" cannot happen in any language.
 */
const PLURAL = /\{(\w+), plural,((?:\s*=?\w+\s*\{[^{}]*\})+)\s*\}/g;

export function plurals(text: string, lang: string, vars: Record<string, string | number>): string {
  return text.replace(PLURAL, (m, name: string, forms: string) => {
    if (!(name in vars)) return m;
    const n = Number(vars[name]);
    const options = new Map([...forms.matchAll(/(=?\w+)\s*\{([^{}]*)\}/g)].map((f) => [f[1]!, f[2]!]));
    const form = options.get(`=${n}`) ?? options.get(new Intl.PluralRules(lang).select(n)) ?? options.get('other') ?? '';
    return form.replace(/#/g, Number.isFinite(n) ? new Intl.NumberFormat(lang).format(n) : String(vars[name]));
  });
}
