/**
 * Staff accounts in the operator API (/auth/admin/staff), mounted behind adminAuth: list, add, disable. The CLI
 * (`vaxhub staff ...`) uses these while a hub owns the embedded database; with PostgreSQL it writes directly.
 */
import express, { type Response, type Router } from 'express';
import type { Db } from '../store/db.js';
import type { Repository } from '../store/repository-types.js';
import { addStaff, disableStaff, listStaff, StaffError } from './staff.js';

const ERROR_OF = { 400: 'invalid_request', 404: 'not_found', 409: 'conflict' } as const;

function refuse(res: Response, e: unknown): void {
  if (!(e instanceof StaffError)) throw e;
  res.status(e.status).json({ error: ERROR_OF[e.status], error_description: e.message });
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function createStaffAdminRouter(db: Db, repo: Repository): Router {
  const r = express.Router();
  r.get('/', async (_req, res) => {
    res.json(await listStaff(db));
  });
  r.post('/', async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    try {
      const out = await addStaff(db, repo, { email: str(b.email), name: str(b.name), ...(typeof b.role === 'string' ? { role: b.role } : {}) });
      res.status(out.reenabled ? 200 : 201).json(out);
    } catch (e) {
      refuse(res, e);
    }
  });
  r.post('/disable', async (req, res) => {
    try {
      res.json(await disableStaff(db, repo, str((req.body as Record<string, unknown> | undefined)?.email)));
    } catch (e) {
      refuse(res, e);
    }
  });
  return r;
}
