#!/usr/bin/env -S node --max-semi-space-size=32
// Runs the compiled hub in dist/ (built by `npm run build`, which `npm install` runs) when it matches the
// sources here; otherwise the TypeScript sources directly through tsx, so an edited checkout never runs stale code.
// --max-semi-space-size=32 (as `npm start` and docker/Dockerfile run the hub; test/start-flags.test.ts keeps them
// together): a request allocates many short-lived objects, and with V8's default 16 MB semi-space the young
// generation was collected so often that a stampede of bookings spent ~10% of the hub's CPU in scavenges; 32 MB
// gave 10-15% more bookings a second in bench/booking for ~10 MB more peak memory.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshCompiledEntry } from '../scripts/source-stamp.js';

const compiled = process.env.VAXHUB_RUN_SOURCES ? null : freshCompiledEntry(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'));
if (compiled) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
