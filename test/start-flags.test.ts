/**
 * The hub starts with the same Node flags however it is started: `npm start`, `npx vaxhub` (the bin's shebang) and
 * the Docker image; benchmarks read them from `npm start` (bench/lib/hub-node-flags.ts).
 */
import { readFileSync } from 'node:fs';
import { hubNodeFlags } from '../bench/lib/hub-node-flags.js';

const read = (file: string): string => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

describe('the Node flags the hub runs with', () => {
  const flags = hubNodeFlags();

  it('are given by npm start and include the young-generation size', () => {
    expect(flags).toContain('--max-semi-space-size=32');
  });

  it('are in the bin shebang, so `npx vaxhub serve` runs the same way', () => {
    expect(read('bin/vaxhub.js').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${flags.join(' ')}`);
  });

  it('are in the Docker image command', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(read('docker/Dockerfile'))?.[1];
    expect(JSON.parse(cmd ?? '[]')).toEqual(['node', ...flags, 'bin/vaxhub.js', 'serve', '--seed-demo']);
  });
});
