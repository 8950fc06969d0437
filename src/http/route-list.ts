/**
 * Every route the Express app serves, read from its router stacks the way route-prefixes.ts reads them (router 2.x
 * layers: `route.path` and `route.methods`, `rawPath`, `slash`, `handle.stack`). Security tests enumerate the hub's
 * surface from this, so a route added anywhere is a route they must have an answer for.
 */
import type { Express } from 'express';

export interface MountedRoute {
  /** Upper-case HTTP method, or `USE` for middleware mounted at a path (static files, the FHIR router). */
  method: string;
  /** Express path pattern, mount paths joined: `/auth/admin/clients/:id`. */
  path: string;
}

interface Layer {
  route?: { path?: unknown; methods?: Record<string, boolean> };
  rawPath?: unknown;
  slash?: boolean;
  handle?: { stack?: Layer[] };
}

function join(base: string, path: string): string {
  const joined = `${base}/${path}`.replace(/\/{2,}/g, '/');
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}

function walk(stack: Layer[], base: string, out: MountedRoute[]): void {
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const p of paths) {
        for (const [m, on] of Object.entries(layer.route.methods ?? {})) if (on) out.push({ method: m.toUpperCase(), path: join(base, String(p)) });
      }
      continue;
    }
    const mount = layer.slash ? base : join(base, String(layer.rawPath ?? ''));
    if (Array.isArray(layer.handle?.stack)) walk(layer.handle.stack, mount, out);
    // Middleware at the root sees every request but serves no path of its own; at a path, it serves that path.
    else if (!layer.slash) out.push({ method: 'USE', path: mount });
  }
}

/** The app's routes, in stack order, each method-and-path once. */
export function listRoutes(app: Express): MountedRoute[] {
  const stack = (app as unknown as { router?: { stack?: Layer[] } }).router?.stack;
  const out: MountedRoute[] = [];
  if (Array.isArray(stack)) walk(stack, '', out);
  const seen = new Set<string>();
  return out.filter((r) => {
    const k = `${r.method} ${r.path}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
