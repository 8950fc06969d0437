import { connectionBudget } from './connection-budget.js';
import { ConfigError, loadConfig } from '../config/config.js';

describe('connection budget per hub process', () => {
  it('splits max_connections over the hub processes, pipelines a sixth of each share at most', () => {
    // README's example: 100 - 3 - 10 over 3 nodes = 29 each: 4 + 4 pipelined, a pool of 20 (84 in all).
    expect(connectionBudget({ maxConnections: 100, superuserReserved: 3, reservedOther: 10, processes: 3 })).toMatchObject({ pool: 20, pipelines: 4 });
    // 12 processes on 400: 32 each, the pool capped at its single-node default.
    expect(connectionBudget({ maxConnections: 400, superuserReserved: 3, reservedOther: 10, processes: 12 })).toMatchObject({ pool: 20, pipelines: 4 });
    // A tight server: 100 - 3 - 10 over 8 = 10 each: 1 + 1 pipelined, a pool of 8; every process within its share.
    const tight = connectionBudget({ maxConnections: 100, superuserReserved: 3, reservedOther: 10, processes: 8 });
    expect(tight).toMatchObject({ pool: 8, pipelines: 1 });
    expect(8 * (tight.pool + 2 * tight.pipelines)).toBeLessThanOrEqual(100 - 3 - 10);
  });

  it('takes DATABASE_POOL_MAX as given when it fits, and refuses a start that cannot fit', () => {
    expect(connectionBudget({ maxConnections: 100, superuserReserved: 3, reservedOther: 60, processes: 3, poolMax: 6 })).toMatchObject({ pool: 6, pipelines: 3 }); // 12 each: 6 + 3 + 3
    expect(() => connectionBudget({ maxConnections: 100, superuserReserved: 3, reservedOther: 10, processes: 3, poolMax: 40 })).toThrow(ConfigError);
    expect(() => connectionBudget({ maxConnections: 100, superuserReserved: 3, reservedOther: 10, processes: 60 })).toThrow(/at least 3 connections/);
  });

  it('reads the cluster settings from the environment and names a bad one', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://p/db', HUB_NODES: '3', DATABASE_READ_URL: 'postgres://r1/db, postgres://r2/db', TRUST_PROXY: '10.0.0.0/8,loopback' }).cluster;
    expect(c).toMatchObject({ nodes: 3, nodesGiven: true, readUrls: ['postgres://r1/db', 'postgres://r2/db'], trustProxy: ['10.0.0.0/8', 'loopback'], readMaxLagMs: 1000 });
    expect(loadConfig({}).cluster).toMatchObject({ nodes: 1, nodesGiven: false, readUrls: [], trustProxy: ['loopback'] });
    expect(() => loadConfig({ DATABASE_READ_URL: 'postgres://r/db' })).toThrow(/needs DATABASE_URL/);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://p/db', DATABASE_READ_URL: 'mysql://r' })).toThrow(/DATABASE_READ_URL/);
    expect(() => loadConfig({ TRUST_PROXY: 'everyone' })).toThrow(/TRUST_PROXY/);
    expect(() => loadConfig({ HUB_NODES: '0' })).toThrow(/HUB_NODES/);
  });
});
