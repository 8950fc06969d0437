/**
 * Jest runs TypeScript as native ESM through swc (no type-check here; `npm run typecheck` does that).
 * Three workers on two cores: the integration suites mostly wait (child hubs, SMTP, PostgreSQL, Chromium), and the
 * whole CI run went from ~13.4 to ~9.9 min on this machine with it, keeping clear of the 15-minute limit.
 */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022', experimental: { keepImportAttributes: true } }, module: { type: 'es6' } }],
  },
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  testTimeout: 60000,
  maxWorkers: 3,
};
