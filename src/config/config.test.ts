import path from 'node:path';
import { loadConfig, ConfigError } from './config.js';

describe('loadConfig', () => {
  test('defaults: port 8080, base URL from the port, embedded data dir', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.baseUrl).toBe('http://localhost:8080');
    expect(c.fhirBaseUrl).toBe('http://localhost:8080/fhir');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.adminToken).toBeUndefined();
  });
  test('BASE_URL loses its trailing slash', () => {
    expect(loadConfig({ BASE_URL: 'https://hub.example.org/' }).baseUrl).toBe('https://hub.example.org');
  });
  test('bad settings are named', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ BASE_URL: 'ftp://x' })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ ADMIN_TOKEN: 'short' })).toThrow(/ADMIN_TOKEN/);
  });
  test('CDSI_DATA_DIR: unset keeps the product rule; a directory without CDSi supporting data stops the start', () => {
    expect(loadConfig({}).cdsiDataDir).toBeUndefined();
    const dir = path.resolve('test/fixtures/cdsi/supporting-data');
    expect(loadConfig({ CDSI_DATA_DIR: dir }).cdsiDataDir).toBe(dir);
    expect(() => loadConfig({ CDSI_DATA_DIR: 'test/fixtures/cdsi' })).toThrow(/CDSI_DATA_DIR .*ScheduleSupportingData/);
    expect(() => loadConfig({ CDSI_DATA_DIR: '/nonexistent/cdsi' })).toThrow(/CDSI_DATA_DIR/);
  });
});
