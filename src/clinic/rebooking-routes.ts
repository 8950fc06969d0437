/**
 * The public side of a clinic closure (./rebooking.ts), for the sign-up app's `#offer/<token>` page. The token in
 * the path (from the closure message) is the only credential; a forged or unknown one is 404. JSON; errors are coded
 * OperationOutcomes; rate limited per IP. An offer replaced by a later closure's (its place, or the booking made
 * through it, cancelled again) answers as the newest one (currentOffer), so the first link the person got still works.
 *   GET  /signup/rebooking/:token            the cancelled appointment, the place held, other times
 *   POST /signup/rebooking/:token/accept     keep the held place (it becomes the booking)
 *   POST /signup/rebooking/:token/choose     {slotId}: book that time instead; the held place goes back
 *   POST /signup/rebooking/:token/decline    no place needed: the held one goes back
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { badRequest, isOperationOutcomeError } from '../fhir/outcomes.js';
import { sendOutcomeError } from '../http/errors.js';
import { rateLimit, TokenBucketLimiter } from '../scheduling/waiting-room/shedding.js';
import { acceptOffer, chooseOtherTime, currentOffer, declineOffer, offerOfToken, viewOffer, type OfferView, type RebookingDeps } from './rebooking.js';

export interface RebookingRouterDeps extends RebookingDeps {
  /** Requests per minute per IP. */
  perIpPerMinute: number;
  /** Records what a person did with their offer (the hub's audit). */
  onAnswered?: (offerId: string, what: string, view: OfferView) => void;
}

export function createRebookingRouter(deps: RebookingRouterDeps): Router {
  const r = express.Router();
  const limit = rateLimit('rebooking-ip', new TokenBucketLimiter(deps.perIpPerMinute, Math.max(5, Math.ceil(deps.perIpPerMinute / 6))), (req) => req.ip ?? 'unknown');
  const json = express.json({ limit: '4kb' });
  const handle = (fn: (offerId: string, req: Request) => Promise<{ view: OfferView; answered?: string }>) =>
    (req: Request, res: Response, next: NextFunction): void => {
      void (async () => {
        const offerId = await currentOffer(deps.db, await offerOfToken(deps.db, String(req.params.token ?? '')));
        const { view, answered } = await fn(offerId, req);
        if (answered) deps.onAnswered?.(offerId, answered, view);
        res.set('Cache-Control', 'no-store').json(view);
      })().catch((e: unknown) => (isOperationOutcomeError(e) ? sendOutcomeError(res, e) : next(e)));
    };
  r.get('/signup/rebooking/:token', limit, handle(async (id) => ({ view: await viewOffer(deps, id) })));
  r.post('/signup/rebooking/:token/accept', limit, handle(async (id) => ({ view: await acceptOffer(deps, id), answered: 'kept the place held for them' })));
  r.post('/signup/rebooking/:token/choose', limit, json, handle(async (id, req) => {
    const b = req.body as unknown;
    if (typeof b !== 'object' || b === null || Array.isArray(b)) throw badRequest('The body must be a JSON object {slotId}');
    return { view: await chooseOtherTime(deps, id, (b as { slotId?: unknown }).slotId), answered: 'chose another time' };
  }));
  r.post('/signup/rebooking/:token/decline', limit, handle(async (id) => ({ view: await declineOffer(deps, id), answered: 'declined the place held for them' })));
  return r;
}
