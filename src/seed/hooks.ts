import type { AfterSeedHook } from './seed.js';
import { schedulingDemoSeed } from '../scheduling/demo-seed.js';

/** Capabilities that add to the demo data (slots with capacity, stock) register here. */
export function afterSeedHooks(): AfterSeedHook[] {
  return [schedulingDemoSeed];
}
