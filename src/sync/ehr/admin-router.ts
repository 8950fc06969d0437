/**
 * EHR connector routes: the public JWK Set URL of the hub's client keys, and the operator API under /sync/admin
 * (connections, sync state, run now, the patient-match review queue), for operators: a signed-in staff operator
 * or the admin bearer secret (src/auth/admin-routes.ts adminAuth). Each change is audited with who made it.
 */
import express, { type Router } from 'express';
import type { Db } from '../../store/db.js';
import { adminAuth, type AdminAuthOptions } from '../../auth/admin-routes.js';
import { EHR_JWKS_PATH, publicClientJwks } from './client-keys.js';
import { ConnectionConfigError, connectionFromInput, getConnection, getSyncState, listConnections, saveConnection } from './connections.js';
import { listReviews, resolveReview } from './links.js';
import { runEhrSync, SyncBusyError } from './sync-run.js';

export { EHR_JWKS_PATH };

export function createEhrRouter(deps: { db: Db; adminToken: string | undefined; hubFhirBase: string } & Omit<AdminAuthOptions, 'adminToken'>): Router {
  const { db } = deps;
  const r = express.Router();
  r.get(EHR_JWKS_PATH, async (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(await publicClientJwks(db));
  });

  const admin = express.Router();
  admin.use(adminAuth(deps), express.json({ limit: '64kb' }));
  admin.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  admin.get('/connections', async (_req, res) => {
    const out = [];
    for (const c of await listConnections(db)) out.push({ ...c, state: await getSyncState(db, c.name) });
    res.json(out);
  });
  admin.put('/connections/:name', async (req, res) => {
    try {
      const c = connectionFromInput({ ...(req.body as Record<string, unknown>), name: req.params.name });
      res.status(200).json(await saveConnection(db, c));
    } catch (e) {
      if (!(e instanceof ConnectionConfigError)) throw e;
      res.status(400).json({ error: 'invalid_request', error_description: e.message });
    }
  });
  admin.get('/connections/:name', async (req, res) => {
    const c = await getConnection(db, req.params.name);
    if (!c) res.status(404).json({ error: 'not_found', error_description: 'no such connection' });
    else res.json({ ...c, state: await getSyncState(db, c.name) });
  });
  admin.post('/connections/:name/run', async (req, res) => {
    if (!(await getConnection(db, req.params.name))) {
      res.status(404).json({ error: 'not_found', error_description: 'no such connection' });
      return;
    }
    try {
      // ?full=true: a full pull instead of the changes since the last one (bulk connections).
      res.json(await runEhrSync(db, req.params.name, { hubFhirBase: deps.hubFhirBase, full: req.query.full === 'true' || req.query.full === '1' }));
    } catch (e) {
      if (e instanceof SyncBusyError) res.status(409).json({ error: 'busy', error_description: e.message });
      else res.status(502).json({ error: 'sync_failed', error_description: (e as Error).message, state: await getSyncState(db, req.params.name) });
    }
  });
  admin.get('/review', async (req, res) => {
    res.json(await listReviews(db, typeof req.query.connection === 'string' ? req.query.connection : undefined));
  });
  admin.post('/review/:id', async (req, res) => {
    const b = (req.body ?? {}) as { link?: unknown; reject?: unknown };
    const decision = typeof b.link === 'string' ? { link: b.link } : b.reject === true ? { reject: true as const } : undefined;
    if (!decision) {
      res.status(400).json({ error: 'invalid_request', error_description: 'send {"link": "<EHR patient id>"} or {"reject": true}' });
      return;
    }
    const item = await resolveReview(db, Number(req.params.id), decision);
    if (item) res.json(item);
    else res.status(409).json({ error: 'conflict', error_description: 'no open review with that id and candidate' });
  });
  r.use('/sync/admin', admin);
  return r;
}
