/**
 * The baseline of bench/forecast, as its own process(es): bare Node `http` servers that read the request body, parse
 * it as JSON, and answer the fixed body in `BODY_FILE` (the hub's own answer to the bench request, the same bytes),
 * with `WORKERS` processes sharing the port through node:cluster, as `vaxhub serve --workers N` shares it. What
 * HTTP, JSON parsing and writing a 43 kB answer cost on this machine, now: the floor under any forecast server.
 * Reports `{ ready, port }` to its parent over IPC.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const workers = Number(process.env.WORKERS ?? 1);

if (workers > 1 && cluster.isPrimary) {
  const forked = Array.from({ length: workers }, () => cluster.fork());
  let port: number | undefined;
  let listening = 0;
  for (const w of forked) {
    w.on('listening', (address) => {
      port = address.port;
      if (++listening === workers) process.send?.({ ready: true, port });
    });
  }
  process.on('SIGTERM', () => {
    for (const w of forked) w.kill('SIGTERM');
    process.exit(0);
  });
  process.on('disconnect', () => process.exit(0));
} else {
  const answer = readFileSync(process.env.BODY_FILE!);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-length': answer.length });
      res.end(answer);
    });
  });
  server.keepAliveTimeout = 65_000;
  // A worker listens on the port its primary picked (0 lets the first worker choose, and the others share it).
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    if (workers === 1) process.send?.({ ready: true, port: (server.address() as AddressInfo).port });
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
  if (workers === 1) process.on('disconnect', () => process.exit(0));
}
