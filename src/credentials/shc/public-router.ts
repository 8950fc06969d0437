/**
 * Public SMART Health Card endpoints, mounted at the issuer URL's path:
 * `GET /.well-known/jwks.json` and `GET /.well-known/crl/:kid.json` (CORS *), and `POST /verify`.
 * @see https://spec.smarthealth.cards/#determining-keys-associated-with-an-issuer
 */
import express, { type Request, type Response, type Router } from 'express';
import type { Db } from '../../store/db.js';
import { shcServices, type ShcConfig } from './context.js';
import { verifyHealthCards, type VerifyInput } from './verify.js';

export interface ShcPublicRouterDeps {
  db: Db;
  config: ShcConfig;
  /** Largest accepted /verify body (QR photos can be big). */
  verifyBodyLimit?: string;
}

function cors(res: Response): void {
  res.set('Access-Control-Allow-Origin', '*');
}

function badInput(res: Response, diagnostics: string): void {
  res.status(400).type('application/fhir+json').json({
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'invalid', diagnostics }],
  });
}

export function createShcPublicRouter(deps: ShcPublicRouterDeps): Router {
  const router = express.Router();
  const { keys, revocations, trust } = shcServices(deps.db, deps.config);
  const limit = deps.verifyBodyLimit ?? '5mb';

  router.options(['/.well-known/jwks.json', '/.well-known/crl/:file'], (_req, res) => {
    cors(res);
    res.set('Access-Control-Allow-Methods', 'GET');
    res.status(204).end();
  });

  router.get('/.well-known/jwks.json', async (_req, res) => {
    cors(res);
    // Generated on first use: a fresh hub publishes the key it will sign with.
    await keys.activeKey();
    res.set('Cache-Control', 'public, max-age=300').json(await keys.publicJwks());
  });

  router.get('/.well-known/crl/:file', async (req: Request<{ file: string }>, res) => {
    cors(res);
    const m = /^([A-Za-z0-9_-]{1,128})\.json$/.exec(req.params.file);
    const crl = m ? await revocations.crl(m[1]) : undefined;
    if (!crl) return void res.status(404).json({ error: 'not_found', error_description: 'No revocation list for this key' });
    res.set('Cache-Control', 'no-cache').json(crl);
  });

  router.post(
    '/verify',
    express.raw({ type: ['image/png', 'application/octet-stream'], limit }),
    express.text({ type: ['text/plain', 'application/jose', 'application/smart-health-card'], limit }),
    express.json({ limit }),
    async (req, res) => {
      const input = verifyInputFromBody(req.body);
      if (input === undefined) {
        return badInput(res, 'Send a .smart-health-card file, a JWS, shc:/ text (text/plain), a QR PNG (image/png), or JSON {"input": ...}');
      }
      res.json({ results: await verifyHealthCards(input, { trust }) });
    },
  );
  return router;
}

function verifyInputFromBody(body: unknown): VerifyInput | undefined {
  if (Buffer.isBuffer(body)) return body.length ? new Uint8Array(body) : undefined;
  if (typeof body === 'string') return body.trim() ? body : undefined;
  if (body && typeof body === 'object') {
    const o = body as Record<string, unknown>;
    if (Array.isArray(o.verifiableCredential)) return JSON.stringify(o);
    if (typeof o.input === 'string') return o.input;
    if (Array.isArray(o.input) && o.input.every((x) => typeof x === 'string')) return o.input as string[];
    if (typeof o.png === 'string') return new Uint8Array(Buffer.from(o.png, 'base64'));
  }
  return undefined;
}
