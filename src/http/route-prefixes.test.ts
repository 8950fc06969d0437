import express from 'express';
import request from 'supertest';
import { guardRootRouters, routePrefixes } from './route-prefixes.js';

type Stack = Parameters<typeof routePrefixes>[0];
const stackOf = (r: express.Router): Stack => (r as unknown as { stack: Stack }).stack;

describe('routePrefixes', () => {
  it('gives the static start of every route and mounted path, lower-cased', () => {
    const r = express.Router();
    r.get('/SHL/:id', (_req, res) => void res.end());
    r.post('/signup/register', (_req, res) => void res.end());
    r.options(['/auth/token', '/auth/revoke'], (_req, res) => void res.end());
    r.use('/admin/iis', express.Router());
    const inner = express.Router();
    inner.get('/fhir/bulkstatus/:job', (_req, res) => void res.end());
    r.use(inner);
    expect(routePrefixes(stackOf(r))).toEqual(['/shl/', '/signup/register', '/auth/token', '/auth/revoke', '/admin/iis', '/fhir/bulkstatus/']);
  });

  it('gives none for a router that may match any path', () => {
    const withMiddleware = express.Router();
    withMiddleware.use(express.json());
    withMiddleware.get('/x', (_req, res) => void res.end());
    expect(routePrefixes(stackOf(withMiddleware))).toBeUndefined();
    const withPattern = express.Router();
    withPattern.get(/^\/anything/, (_req, res) => void res.end());
    expect(routePrefixes(stackOf(withPattern))).toBeUndefined();
    const fromRoot = express.Router();
    fromRoot.get('/:id', (_req, res) => void res.end());
    expect(routePrefixes(stackOf(fromRoot))).toBeUndefined();
  });
});

describe('guardRootRouters', () => {
  it('skips a router for paths it cannot match and serves the same answers as before', async () => {
    const app = express();
    let entered = 0;
    const r = express.Router();
    r.use('/shl', (_req, _res, next) => {
      entered++;
      next();
    });
    r.get('/shl/:id', (req, res) => void res.json({ shl: req.params.id }));
    app.use(r);
    const catchAll = express.Router();
    catchAll.use((_req, res, next) => {
      res.set('x-seen', 'yes');
      next();
    });
    app.use(catchAll);
    app.get('/fhir/Patient/:id', (req, res) => void res.json({ patient: req.params.id }));
    app.use((_req, res) => void res.status(404).end());
    expect(guardRootRouters(app)).toBe(1);

    expect((await request(app).get('/fhir/Patient/1')).body).toEqual({ patient: '1' });
    expect(entered).toBe(0);
    const shl = await request(app).get('/SHL/abc'); // Express matches case-insensitively, and so does the guard
    expect(shl.body).toEqual({ shl: 'abc' });
    expect(shl.headers['x-seen']).toBeUndefined();
    expect(entered).toBe(1);
    // The unguarded router still sees every request.
    expect((await request(app).get('/nowhere')).headers['x-seen']).toBe('yes');
  });
});
