/**
 * Public SMART Health Card endpoints, mounted at the issuer URL's path:
 * `GET /.well-known/jwks.json` and `GET /.well-known/crl/:kid.json` (CORS *), `POST /verify`, and
 * `GET /verify/trust` (the issuers this hub trusts, for verifiers in the browser such as the SHL viewer).
 * `/verify` takes no token, so its work is bounded: a body limit, a number of cards per request and a rate limit
 * per client address; input that is not a card at all is a 400 OperationOutcome before any verification runs.
 * @see https://spec.smarthealth.cards/#determining-keys-associated-with-an-issuer
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { FixedWindowLimiter, type RateLimitOptions } from '../../auth/rate-limit.js';
import { badRequest, fhirError } from '../../fhir/outcomes.js';
import type { Db } from '../../store/db.js';
import { shcServices, type ShcConfig } from './context.js';
import { isHealthCardError } from './errors.js';
import { decodeHealthCardJws } from './jws.js';
import { QrReaderBusyError, isPng, readQrFromPngOffThread } from './qr-image.js';
import { extractJwsList, verifyHealthCardJwsSummary, type VerifyInput } from './verify.js';

export interface ShcPublicRouterDeps {
  db: Db;
  config: ShcConfig;
  /** Largest accepted /verify image body (a QR photo); default 2 MB. */
  verifyImageLimit?: string;
  /** Largest accepted /verify text or JSON body; default 256 KB (a card is a few KB). */
  verifyTextLimit?: string;
  /** Cards per /verify request; default 10. */
  maxCardsPerRequest?: number;
  /** /verify requests per client address; default 120 a minute. */
  verifyRateLimit?: RateLimitOptions;
}

export const DEFAULT_MAX_CARDS_PER_REQUEST = 10;
export const DEFAULT_VERIFY_RATE_LIMIT: RateLimitOptions = { limit: 120, windowMs: 60_000 };

function cors(res: Response): void {
  res.set('Access-Control-Allow-Origin', '*');
}

const HOW_TO_SEND =
  'Send a .smart-health-card file, a JWS, shc:/ text (text/plain), a QR PNG (image/png), or JSON {"input": ...}';

export function createShcPublicRouter(deps: ShcPublicRouterDeps): Router {
  const router = express.Router();
  const { keys, revocations, trust, trustList } = shcServices(deps.db, deps.config);
  const maxCards = deps.maxCardsPerRequest ?? DEFAULT_MAX_CARDS_PER_REQUEST;
  const imageLimit = deps.verifyImageLimit ?? '2mb';
  const textLimit = deps.verifyTextLimit ?? '256kb';
  const limiter = new FixedWindowLimiter(deps.verifyRateLimit ?? DEFAULT_VERIFY_RATE_LIMIT);

  router.options(['/.well-known/jwks.json', '/.well-known/crl/:file', '/verify/trust'], (_req, res) => {
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

  // The trust list the hub's own /verify uses, so a verifier in the browser trusts exactly the same issuers.
  // Not cached: a withdrawn key must stop counting at once.
  router.get('/verify/trust', async (_req, res) => {
    cors(res);
    await keys.activeKey();
    res.set('Cache-Control', 'no-cache').json(await trustList());
  });

  // Counted before the body is read, so a flood of large bodies is refused without parsing them.
  const rateLimit = (req: Request, res: Response, next: NextFunction): void => {
    const wait = limiter.hit(req.ip ?? 'unknown');
    if (wait > 0) {
      res.set('Cache-Control', 'no-store');
      return next(fhirError('TOO_MANY_REQUESTS', `Too many /verify requests from this address; retry after ${wait} s`, undefined, { 'Retry-After': String(wait) }));
    }
    next();
  };

  router.post(
    '/verify',
    rateLimit,
    express.raw({ type: ['image/png', 'application/octet-stream'], limit: imageLimit }),
    express.text({ type: ['text/plain', 'application/jose', 'application/smart-health-card'], limit: textLimit }),
    express.json({ limit: textLimit }),
    async (req, res) => {
      let input = verifyInputFromBody(req.body);
      if (input === undefined) throw badRequest(HOW_TO_SEND);
      if (typeof input !== 'string' && !Array.isArray(input) && isPng(input)) input = await qrTextOf(input);
      const cards = readCards(input, maxCards);
      // One after the other: a request holds at most `maxCards` verifications, none of them in parallel.
      const results = [];
      for (const jws of cards) results.push(await verifyHealthCardJwsSummary(jws, { trust }));
      res.json({ results });
    },
  );
  return router;
}

/** The QR text of an uploaded image, read off the event loop; unreadable: 400, too many at once: 429. */
async function qrTextOf(png: Uint8Array): Promise<string> {
  try {
    return await readQrFromPngOffThread(png);
  } catch (e) {
    if (e instanceof QrReaderBusyError) throw fhirError('TOO_MANY_REQUESTS', e.message, undefined, { 'Retry-After': '2' });
    if (isHealthCardError(e)) throw badRequest(`${e.code}: ${e.message}`);
    throw e;
  }
}

/**
 * The cards of a request, each decodable as a health card (header, raw DEFLATE, JSON payload). Input that is not
 * a card at all (bad base64url, not a file, an image without a QR) is the caller's mistake: a 400 naming it.
 * A card that decodes but fails a check (signature, trust, dates, revocation) is a verification result instead.
 */
export function readCards(input: VerifyInput, maxCards: number): string[] {
  let list: string[];
  try {
    list = extractJwsList(input);
  } catch (e) {
    if (!isHealthCardError(e)) throw e;
    throw badRequest(`${e.code}: ${e.message}. ${HOW_TO_SEND}`);
  }
  if (list.length > maxCards) {
    throw fhirError('PAYLOAD_TOO_LARGE', `At most ${maxCards} cards per request (this one holds ${list.length}); send them in several requests`, 'verifiableCredential');
  }
  list.forEach((jws, i) => {
    try {
      decodeHealthCardJws(jws);
    } catch (e) {
      if (!isHealthCardError(e)) throw e;
      throw badRequest(`Card ${i + 1} is not a SMART Health Card: ${e.code}: ${e.message}`, list.length > 1 ? `verifiableCredential[${i}]` : undefined);
    }
  });
  return list;
}

function verifyInputFromBody(body: unknown): VerifyInput | undefined {
  if (Buffer.isBuffer(body)) return body.length ? new Uint8Array(body) : undefined;
  if (typeof body === 'string') return body.trim() ? body : undefined;
  if (body && typeof body === 'object') {
    const o = body as Record<string, unknown>;
    if (Array.isArray(o.verifiableCredential)) return JSON.stringify(o);
    if (typeof o.input === 'string') return o.input;
    if (Array.isArray(o.input) && o.input.length && o.input.every((x) => typeof x === 'string')) return o.input as string[];
    if (typeof o.png === 'string') {
      const bytes = new Uint8Array(Buffer.from(o.png, 'base64'));
      // Said to be an image: never read as text instead.
      if (!isPng(bytes)) throw badRequest('QR_INVALID: "png" holds no base64 PNG image', 'png');
      return bytes;
    }
  }
  return undefined;
}
