/**
 * Test rig for sync: a real hub with SMART access control (startTestHub), its export files in a temp dir, and
 * Backend Services clients registered through the admin API that sign their own assertions with jose.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { ADMIN, startTestHub, type Backend, type TestHub } from '../helpers/hub.js';
import type { Config } from '../../src/config/config.js';

export interface SyncTestHub extends TestHub {
  exportDir: string;
}

export async function startSyncHub(backend: Backend, overrides: Partial<Config> = {}): Promise<SyncTestHub> {
  const exportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-sync-'));
  process.env.BULK_EXPORT_DIR = exportDir;
  const t = await startTestHub(backend, { devOpenAccess: false, dataDir: exportDir, ...overrides });
  delete process.env.BULK_EXPORT_DIR;
  return {
    ...t,
    exportDir,
    async close() {
      await t.close();
      fs.rmSync(exportDir, { recursive: true, force: true });
    },
  };
}

export interface BackendClient {
  id: string;
  jwks: { keys: JWK[] };
  token(scope?: string): Promise<string>;
}

/** Registers a backend client with its public JWKS through the admin API; `token()` does client_credentials. */
export async function registerBackendClient(hubUrl: string, opts: { scope: string; policy?: Record<string, unknown>; id?: string }): Promise<BackendClient> {
  const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = randomUUID();
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }] };
  const id = opts.id ?? `client-${randomUUID().slice(0, 8)}`;
  const res = await fetch(`${hubUrl}/auth/admin/clients`, {
    method: 'POST',
    headers: { ...ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({ id, type: 'backend', scope: opts.scope, jwks, ...(opts.policy ? { policy: opts.policy } : {}) }),
  });
  if (res.status !== 201) throw new Error(`client registration failed: ${res.status} ${await res.text()}`);
  const tokenUrl = `${hubUrl}/auth/token`;
  return {
    id,
    jwks,
    async token(scope = opts.scope) {
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES384', kid, typ: 'JWT' })
        .setIssuer(id)
        .setSubject(id)
        .setAudience(tokenUrl)
        .setExpirationTime('4m')
        .setJti(randomUUID())
        .sign(privateKey as CryptoKey);
      const r = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        }),
      });
      const body = (await r.json()) as { access_token?: string; error_description?: string };
      if (!body.access_token) throw new Error(`token request failed: ${r.status} ${body.error_description}`);
      return body.access_token;
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
