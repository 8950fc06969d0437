/**
 * The hub as the export benchmark runs it: `createHub` from the environment (DATABASE_URL, PORT, ADMIN_TOKEN,
 * BULK_*), with sync wired in front when src/modules.ts does not wire it yet. Started by bench/export/run.ts.
 */
import http from 'node:http';
import express from 'express';
import { createHub } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { INTERNAL_SYSTEM, ANONYMOUS } from '../../src/auth/principal.js';
import { errorHandler } from '../../src/http/errors.js';
import { wireSync } from '../../src/sync/wiring.js';

const config = loadConfig(process.env, { seedDemo: false, logLevel: 'warn' });
const hub = await createHub(config);
let handler: http.RequestListener = hub.app;
if (!hub.fhir.operations.some((o) => o.name === 'export')) {
  const front = express();
  wireSync({ ...hub, app: front } as typeof hub, {
    addOperation: (op) => hub.fhir.operations.push(op),
    addInterceptor: (i) => hub.fhir.interceptors.push(i),
    setPolicy: () => undefined,
    setAuthenticator: () => undefined,
    // The benchmark polls with the operator token only.
    authenticate: async (req) => (req.headers.authorization === `Bearer ${config.adminToken}` ? INTERNAL_SYSTEM : ANONYMOUS),
  });
  front.use(hub.app);
  front.use(errorHandler(hub.logger));
  handler = front;
}
http.createServer(handler).listen(config.port, '127.0.0.1', () => process.stdout.write('ready\n'));
