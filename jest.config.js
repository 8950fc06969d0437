/**
 * Jest runs TypeScript as native ESM through swc (no type-check here; `npm run typecheck` does that).
 * Four workers on two cores: the integration suites mostly wait (child hubs, SMTP, PostgreSQL, Chromium). Three
 * took the whole CI run from ~13.4 to ~9.9 min; on 2026-12-04, a slower day on this machine (a clean-clone CI run
 * took 13.5 min, jest 582 s with three workers), four finished the suite in 528 s, keeping clear of the 15-minute
 * limit.
 */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  testTimeout: 60000,
  maxWorkers: 4,
};
