/**
 * Skips the capability routers a request cannot match. Modules mount their routers at the application's root
 * (`app.use(router)`), so Express enters every one of them for every request and tries each of its routes in turn:
 * some fifty route matches before a FHIR request reaches the FHIR router. Once all modules are mounted, each
 * root-mounted router whose routes all start with known static prefixes (`/shl/`, `/signup/`, `/fhir/bulk-status/`,
 * ...) is given a guard that passes a request on at once when its path starts with none of them. A router that
 * may match any path (middleware at its root, a pattern path) is left as it is.
 *
 * Express matches paths case-insensitively by default (the app's `case sensitive routing` setting is off), so the
 * guard compares lower-cased paths. It reads the mounted routers' stacks (router 2.x layers: `route.path`,
 * `rawPath`, `slash`, `handle.stack`), and leaves alone anything shaped otherwise.
 */
import type { Express, NextFunction, Request, Response } from 'express';

interface RouterLayer {
  route?: { path?: unknown };
  rawPath?: unknown;
  slash?: boolean;
  handle: ((req: Request, res: Response, next: NextFunction) => void) & { stack?: RouterLayer[] };
}

/** The static start of a path pattern: everything before its first parameter, wildcard or group. */
function staticPart(path: string): string {
  const cut = path.search(/[:*{(]/);
  return (cut < 0 ? path : path.slice(0, cut)).toLowerCase();
}

/** Static prefixes that cover every path `stack` can match, or undefined when it may match any path. */
export function routePrefixes(stack: RouterLayer[], base = ''): string[] | undefined {
  const out: string[] = [];
  for (const layer of stack) {
    if (layer.route) {
      const paths: unknown[] = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      if (!paths.every((p): p is string => typeof p === 'string')) return undefined;
      out.push(...paths.map((p) => base + staticPart(p)));
      continue;
    }
    if (typeof layer.rawPath !== 'string') return undefined;
    if (layer.slash) {
      // Mounted at the root: a router contributes its own prefixes, any other middleware sees every path.
      if (!Array.isArray(layer.handle.stack)) return undefined;
      const inner = routePrefixes(layer.handle.stack, base);
      if (!inner) return undefined;
      out.push(...inner);
    } else {
      out.push(base + staticPart(layer.rawPath));
    }
  }
  // An empty prefix would be a route at '' or a pattern from the first character: it may match anything.
  return out.some((p) => p === '' || p === '/') ? undefined : [...new Set(out)];
}

/** Guards each root-mounted router of `app` with its prefixes; returns how many were guarded. */
export function guardRootRouters(app: Express): number {
  const stack = (app as unknown as { router?: { stack?: RouterLayer[] } }).router?.stack;
  if (!Array.isArray(stack)) return 0;
  let guarded = 0;
  for (const layer of stack) {
    if (!layer.slash || typeof layer.handle !== 'function' || !Array.isArray(layer.handle.stack)) continue;
    const prefixes = routePrefixes(layer.handle.stack);
    if (!prefixes) continue;
    const router = layer.handle;
    const guard = (req: Request, res: Response, next: NextFunction): void => {
      const path = req.path.toLowerCase();
      for (const p of prefixes) if (path.startsWith(p)) return router(req, res, next);
      next();
    };
    layer.handle = Object.assign(guard, { stack: router.stack });
    guarded++;
  }
  return guarded;
}
