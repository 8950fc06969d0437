/**
 * uri `:above` and `:below` (R4 search.html#uri): hierarchy by path, so `http://acme.org/fhir` is above
 * `http://acme.org/fhir/ValueSet/123` and `http://acme.org/fhi` is above neither.
 * @see https://hl7.org/fhir/R4/search.html#uri
 */

/** `:below=v`: a stored uri equal to v (with or without a trailing `/`), or starting with this (v and one `/`). */
export function uriBelowBase(value: string): string {
  return value.endsWith('/') ? value : `${value}/`;
}

/** The stored values `:below=v` matches exactly: v and v without its trailing `/`. */
export function uriBelowSelf(value: string): string[] {
  return value.endsWith('/') && value.length > 1 ? [value, value.slice(0, -1)] : [value];
}

/** `:above=v`: the stored uris that match are v and each of its path prefixes (with and without a trailing `/`). */
export function uriAbove(value: string): string[] {
  const out = new Set<string>([value]);
  // The scheme and authority (`http://host`) are the shortest prefix: `http:` alone is above nothing.
  const authority = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(value)?.[0].length ?? value.indexOf(':') + 1;
  let path = value.replace(/[?#].*$/, '');
  if (path !== value) out.add(path);
  while (path.length > authority) {
    const slash = path.lastIndexOf('/', path.endsWith('/') ? path.length - 2 : path.length - 1);
    if (slash < authority) break;
    path = path.slice(0, slash);
    out.add(path);
    out.add(`${path}/`);
  }
  return [...out];
}

/** The same tests on one stored value (scope restrictions, src/auth/scope-restriction-match.ts). */
export function uriMatches(modifier: 'above' | 'below', value: string, stored: string): boolean {
  if (modifier === 'below') return uriBelowSelf(value).includes(stored) || stored.startsWith(uriBelowBase(value));
  return uriAbove(value).includes(stored);
}
