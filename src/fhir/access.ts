import type { AccessPolicy } from './types.js';

/** Full access: for in-process callers (CLI, seeding, sync jobs) that act as the hub itself. */
export const allowAllPolicy: AccessPolicy = {
  assertAllowed: () => undefined,
  searchRestrictions: () => [],
  canSee: () => true,
  canWrite: () => true,
};
