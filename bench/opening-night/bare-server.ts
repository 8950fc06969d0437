/**
 * The baseline: a bare Node `http` server answering a JSON body the size of a waiting-room status, so run.ts can
 * report the hub's /waiting-room/status throughput as a fraction of what plain Node does on this machine, now.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const body = JSON.stringify({
  eventId: 'bench-event', opensAt: new Date().toISOString(), state: 'waiting', position: 31337, ahead: 31000,
  etaSeconds: 6200, pollAfterSeconds: 30, admitted: false,
});
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.send?.({ ready: true, port: (server.address() as AddressInfo).port }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
