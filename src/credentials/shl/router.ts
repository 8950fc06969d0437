/**
 * Public SMART Health Link endpoints (no token: the link is the capability):
 * `POST /:manifestId` (manifest), `GET /:manifestId?recipient=` (flag U), `GET /file/:ticket` (location URLs).
 * Mount at the `baseUrl` given to createLink, e.g. `app.use('/shl', createShlRouter({db, publicBaseUrl}))`.
 */
import express, { type Router } from 'express';
import { resolveDirect, resolveFileTicket, resolveManifest, type ShlDeps } from './links.js';

export interface ShlRouterDeps extends ShlDeps {
  /** The public URL this router is mounted at, e.g. `https://hub.example.org/shl`. */
  publicBaseUrl: string;
}

export function createShlRouter(deps: ShlRouterDeps): Router {
  const router = express.Router();
  const cors = (res: express.Response) => res.set('Access-Control-Allow-Origin', '*');
  const fileBase = `${deps.publicBaseUrl.replace(/\/$/, '')}/file`;

  router.options('/:id', (_req, res) => {
    cors(res).set('Access-Control-Allow-Methods', 'GET, POST').set('Access-Control-Allow-Headers', 'content-type').status(204).end();
  });

  router.get('/file/:ticket', async (req, res) => {
    cors(res);
    const jwe = await resolveFileTicket(deps, req.params.ticket);
    if (!jwe) return void res.status(404).json({ error: 'not_found', error_description: 'Expired or unknown file location' });
    res.type('application/jose').send(jwe);
  });

  router.post('/:id', express.json({ limit: '16kb' }), async (req, res) => {
    cors(res);
    const result = await resolveManifest(deps, req.params.id, (req.body ?? {}) as Record<string, unknown>, fileBase);
    res.status(result.status).json(result.body);
  });

  router.get('/:id', async (req, res) => {
    cors(res);
    const result = await resolveDirect(deps, req.params.id, req.query.recipient);
    if ('jwe' in result) return void res.type('application/jose').send(result.jwe);
    res.status(result.status).json(result.body);
  });
  return router;
}
