/**
 * The hub under test, as its own process (started by run.ts): the real hub (src/app.ts, with opening night and
 * the fast /waiting-room/status path wired by src/modules.ts) against the PostgreSQL schema in DATABASE_URL.
 * Reports `{ ready, port }` to its parent over IPC.
 */
import type { AddressInfo } from 'node:net';
import { createHub, listen } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';

const config = loadConfig(process.env, { seedDemo: false, host: '127.0.0.1' });
const hub = await createHub(config);
const server = await listen(hub);
const port = (server.address() as AddressInfo).port;
process.send?.({ ready: true, port });
// The bench gone (killed, or crashed) is the end of this hub too: never a hub left running on the shared machine.
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => {
  void hub.close().finally(() => process.exit(0));
});
