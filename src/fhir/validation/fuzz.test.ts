/**
 * 1,000 randomly mutated resources: validation must never throw, and must either pass or explain
 * itself with at least one issue and a 400/422 status. Seeded, so a failure is reproducible.
 */
import { SUPPORTED_TYPES_FOR_TESTS as TYPES, VALID_EXAMPLES } from './examples.js';
import { validateResource, warmUp } from './index.js';
import { prng as rng } from '../../seed/demo-data.js';

const JUNK: unknown[] = [null, true, 0, -1, 1.5, 1e308, '', ' ', 'x'.repeat(300), '2021-13-45', '\u0000', [], {}, [null], [[]], { '': 1 }, { resourceType: 'Patient' }, { resourceType: 42 }, '__proto__', { constructor: 1 }];

type Node = Record<string, unknown> | unknown[];

function containers(root: unknown): Node[] {
  const out: Node[] = [];
  const walk = (n: unknown): void => {
    if (n === null || typeof n !== 'object') return;
    out.push(n as Node);
    for (const v of Object.values(n)) walk(v);
  };
  walk(root);
  return out;
}

function mutate(resource: Record<string, unknown>, random: () => number): unknown {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(random() * a.length)];
  const steps = 1 + Math.floor(random() * 4);
  let root: unknown = resource;
  for (let i = 0; i < steps; i++) {
    const nodes = containers(root);
    if (nodes.length === 0 || random() < 0.02) return pick(JUNK); // replace the whole body
    const node = pick(nodes);
    const keys = Object.keys(node);
    const action = random();
    if (action < 0.3 && keys.length > 0) {
      const key = pick(keys);
      if (Array.isArray(node)) node.splice(Number(key), 1);
      else delete node[key];
    } else if (action < 0.6 && keys.length > 0) {
      const key = pick(keys);
      (node as Record<string, unknown>)[key] = structuredClone(pick(JUNK));
    } else if (action < 0.8) {
      if (Array.isArray(node)) node.push(structuredClone(pick(JUNK)));
      else node[pick(['junk', '_status', 'resourceType', 'id', 'extension', 'contained', 'meta'])] = structuredClone(pick(JUNK));
    } else if (keys.length > 0) {
      const key = pick(keys);
      const value = (node as Record<string, unknown>)[key];
      (node as Record<string, unknown>)[key] = typeof value === 'string' ? Number(value.length) : String(JSON.stringify(value) ?? '');
    }
    root = resource;
  }
  return root;
}

beforeAll(() => warmUp(TYPES));

it('1,000 mutated resources never throw and always pass or give issues', () => {
  const random = rng(20210301);
  const statuses = { ok: 0, 400: 0, 422: 0 };
  const started = performance.now();
  for (let i = 0; i < 1000; i++) {
    const type = TYPES[i % TYPES.length];
    const body = mutate(structuredClone(VALID_EXAMPLES[type]), random);
    // Update when the (mutated) body still has an id, with the URL id equal to it most of the time.
    const id = (body as { id?: unknown } | null)?.id;
    const mode = typeof id === 'string' && random() < 0.7 ? 'update' : 'create';
    const expectedId = mode === 'update' && random() < 0.9 ? (id as string) : 'other-id';
    let result: ReturnType<typeof validateResource>;
    try {
      result = validateResource(body, { mode, supportedTypes: TYPES, expectedId });
    } catch (e) {
      throw new Error(`mutation #${i} threw ${(e as Error).stack}\nbody: ${JSON.stringify(body)}`, { cause: e });
    }
    if (result.status === undefined) {
      statuses.ok++;
      expect(result.issues.every((x) => x.severity !== 'error')).toBe(true);
    } else {
      statuses[result.status]++;
      expect(result.issues.some((x) => x.severity === 'error')).toBe(true);
      for (const x of result.issues) expect(typeof x.diagnostics).toBe('string');
    }
  }
  console.log(`fuzz: ${JSON.stringify(statuses)} in ${(performance.now() - started).toFixed(0)} ms`);
  // The mutations are mostly destructive, but every outcome must occur.
  expect(statuses[400]).toBeGreaterThan(100);
  expect(statuses[422]).toBeGreaterThan(0);
  expect(statuses.ok).toBeGreaterThan(0);
});
