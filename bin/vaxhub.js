#!/usr/bin/env -S node --max-semi-space-size=32
// Runs the TypeScript sources directly through tsx (esbuild), so a fresh checkout needs no build step.
// --max-semi-space-size=32 (as `npm start` and docker/Dockerfile run the hub; test/start-flags.test.ts keeps them
// together): a request allocates many short-lived objects, and with V8's default 16 MB semi-space the young
// generation was collected so often that a stampede of bookings spent ~10% of the hub's CPU in scavenges; 32 MB
// gave 10-15% more bookings a second in bench/booking for ~10 MB more peak memory.
import { register } from 'tsx/esm/api';
register();
await import('../src/main.ts');
