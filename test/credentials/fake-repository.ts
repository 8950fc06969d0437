/** A small in-memory Repository for credential tests (read, readOptional, search by patient/url). */
import type { AnyResource, Repository, SearchResult } from '../../src/store/repository-types.js';
import { notFound } from '../../src/fhir/outcomes.js';

export function fakeRepository(resources: AnyResource[]): Repository {
  const byKey = new Map(resources.map((r) => [`${r.resourceType}/${r.id}`, r]));
  const unsupported = async (): Promise<never> => {
    throw new TypeError('not supported by the fake repository');
  };
  return {
    create: unsupported,
    createIf: unsupported,
    update: unsupported,
    delete: unsupported,
    vread: unsupported,
    async read<T extends AnyResource = AnyResource>(type: string, id: string): Promise<T> {
      const r = byKey.get(`${type}/${id}`);
      if (!r) throw notFound(`${type}/${id}`);
      return r as T;
    },
    async readOptional<T extends AnyResource = AnyResource>(type: string, id: string): Promise<T | undefined> {
      return byKey.get(`${type}/${id}`) as T | undefined;
    },
    async search<T extends AnyResource = AnyResource>(type: string, query: Record<string, string | string[]>): Promise<SearchResult & { resources: T[] }> {
      const matches = resources.filter(
        (r) =>
          r.resourceType === type &&
          (!query.patient || (r.patient as { reference?: string } | undefined)?.reference === query.patient) &&
          (!query.url || r.url === query.url),
      );
      return { resources: matches as T[], included: [], warnings: [] };
    },
  };
}
