/** CDSi engine entry: being built (issue 23); the public shapes are in ../engine.ts. */
import type { CdsiEngine } from '../engine.js';

export function loadEngine(dir: string): Promise<CdsiEngine> {
  return Promise.reject(new Error(`CDSi engine not yet available (supporting data dir ${dir})`));
}
