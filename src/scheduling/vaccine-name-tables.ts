/**
 * One name per vaccine, in the person's language, for every page and mail (issue 22, item 5: one dose had three
 * names, and Spanish speakers read English ones). English is the product catalogue's own name
 * (profiles/vaccine-products.json); profiles/vaccine-names.json adds the other languages and English names of CVX
 * codes that records carry but the catalogue does not list. The apps read the same two files; this module has no
 * Node imports so they can bundle it.
 */
export type NameLanguage = 'en' | 'es' | 'ko';
export type VaccineNameTables = Record<NameLanguage, Record<string, string>>;

/** The tables from the catalogue's names (English) and the names file (`en` fills codes the catalogue lacks). */
export function vaccineNameTables(catalogue: Array<{ cvx: string; name: string }>, names: Partial<Record<NameLanguage, Record<string, string>>>): VaccineNameTables {
  return {
    en: { ...(names.en ?? {}), ...Object.fromEntries(catalogue.map((p) => [p.cvx, p.name])) },
    es: { ...(names.es ?? {}) },
    ko: { ...(names.ko ?? {}) },
  };
}

/** The vaccine's name in `lang`, else in English; undefined for a code the hub does not know. */
export function vaccineNameIn(tables: VaccineNameTables, cvx: string, lang: string): string | undefined {
  const l = (['es', 'ko'] as const).find((x) => x === lang.slice(0, 2).toLowerCase());
  return (l ? tables[l][cvx] : undefined) ?? tables.en[cvx];
}

