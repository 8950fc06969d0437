/**
 * SMART Health Links held by the hub: the patient creates, lists and revokes them; recipients resolve the
 * manifest. The passcode budget is spent in ONE UPDATE, so parallel wrong guesses cannot overrun it.
 * @see https://hl7.org/fhir/uv/smart-health-cards-and-links/links-specification.html#smart-health-link-manifest-request
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db, Queryable } from '../../store/db.js';
import { encodeShlink, normalizeFlags, random256, type ShlPayload } from './payload.js';
import { encryptShlFile } from './jwe.js';

export const SHC_CONTENT_TYPE = 'application/smart-health-card';
export const FHIR_CONTENT_TYPE = 'application/fhir+json';
/** location URLs live at most this long (the spec's ceiling is one hour). */
export const LOCATION_TTL_SECONDS = 3600;
export const DEFAULT_PASSCODE_ATTEMPTS = 10;

export interface ShlFileInput {
  contentType: typeof SHC_CONTENT_TYPE | typeof FHIR_CONTENT_TYPE;
  /** 'shc': the stored `.smart-health-card` body; 'live-bundle': the patient's current record at each request (flag L). */
  source: 'shc' | 'live-bundle' | 'static';
  content?: unknown;
}

export interface CreateLinkInput {
  patientId: string;
  /** Public base URL the manifest lives under, e.g. `https://hub.example.org/shl`. */
  baseUrl: string;
  files: ShlFileInput[];
  label?: string;
  passcode?: string;
  maxPasscodeAttempts?: number;
  expiresAt?: Date;
  longTerm?: boolean;
  /** Direct single-file GET (U); not with a passcode. */
  direct?: boolean;
  viewerUrl?: string;
}

export interface ShlDeps {
  db: Db;
  /** The patient's current immunization Bundle, for 'live-bundle' files. */
  liveBundle?: (patientId: string) => Promise<unknown>;
}

const passcodeHash = (manifestId: string, passcode: string) =>
  createHash('sha256').update(`${manifestId}:${passcode}`).digest('base64url');

export async function createLink(deps: ShlDeps, input: CreateLinkInput): Promise<{ shlink: string; payload: ShlPayload; manifestId: string }> {
  if (!input.files.length) throw new TypeError('A SMART Health Link shares at least one file');
  if (input.direct && input.files.length !== 1) throw new TypeError('Flag U links share exactly one file');
  const flag = normalizeFlags(`${input.longTerm ? 'L' : ''}${input.passcode ? 'P' : ''}${input.direct ? 'U' : ''}`);
  const manifestId = random256();
  const key = random256();
  const payload: ShlPayload = { url: `${input.baseUrl.replace(/\/$/, '')}/${manifestId}`, key };
  if (input.expiresAt) payload.exp = Math.floor(input.expiresAt.getTime() / 1000);
  if (flag) payload.flag = flag;
  if (input.label !== undefined) payload.label = input.label;
  const shlink = encodeShlink(payload, input.viewerUrl);
  await deps.db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO shl_link (manifest_id, patient_id, key, flag, label, passcode_hash, attempts_left, exp)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        manifestId,
        input.patientId,
        key,
        flag,
        input.label ?? null,
        input.passcode ? passcodeHash(manifestId, input.passcode) : null,
        input.passcode ? (input.maxPasscodeAttempts ?? DEFAULT_PASSCODE_ATTEMPTS) : null,
        input.expiresAt?.toISOString() ?? null,
      ],
    );
    for (const [seq, f] of input.files.entries()) {
      await tx.query('INSERT INTO shl_file (manifest_id, seq, content_type, source, content) VALUES ($1, $2, $3, $4, $5)', [
        manifestId,
        seq,
        f.contentType,
        f.source,
        f.content === undefined ? null : JSON.stringify(f.content),
      ]);
    }
  });
  return { shlink, payload, manifestId };
}

export interface LinkSummary {
  manifestId: string;
  label?: string;
  flag: string;
  exp?: string;
  revoked: boolean;
  createdAt: string;
  accesses: Array<{ recipient: string; outcome: string; at: string }>;
}

/** The patient's links with their access log. */
export async function listLinks(db: Queryable, patientId: string): Promise<LinkSummary[]> {
  const links = await db.query<{ manifest_id: string; label: string | null; flag: string; exp: string | null; revoked_at: string | null; created_at: string }>(
    'SELECT manifest_id, label, flag, exp, revoked_at, created_at FROM shl_link WHERE patient_id = $1 ORDER BY created_at',
    [patientId],
  );
  const log = await db.query<{ manifest_id: string; recipient: string; outcome: string; at: string }>(
    `SELECT l.manifest_id, l.recipient, l.outcome, l.at FROM shl_access_log l JOIN shl_link s ON s.manifest_id = l.manifest_id
     WHERE s.patient_id = $1 ORDER BY l.id`,
    [patientId],
  );
  return links.rows.map((l) => ({
    manifestId: l.manifest_id,
    label: l.label ?? undefined,
    flag: l.flag,
    exp: l.exp ?? undefined,
    revoked: l.revoked_at !== null,
    createdAt: String(l.created_at),
    accesses: log.rows.filter((a) => a.manifest_id === l.manifest_id).map((a) => ({ recipient: a.recipient, outcome: a.outcome, at: String(a.at) })),
  }));
}

/** Revokes one of the patient's own links (false when it is not theirs or already revoked). */
export async function revokeLink(db: Queryable, patientId: string, manifestId: string): Promise<boolean> {
  if (!LINK_TOKEN_PATTERN.test(manifestId)) return false;
  const r = await db.query('UPDATE shl_link SET revoked_at = now() WHERE manifest_id = $1 AND patient_id = $2 AND revoked_at IS NULL', [
    manifestId,
    patientId,
  ]);
  return r.rowCount > 0;
}

/**
 * The payload of one of the patient's active links, rebuilt from the stored row (to show its QR again).
 * undefined when it is not theirs, revoked or expired.
 */
export async function activeLinkPayload(db: Queryable, patientId: string, manifestId: string, baseUrl: string): Promise<ShlPayload | undefined> {
  if (!LINK_TOKEN_PATTERN.test(manifestId)) return undefined;
  const r = await db.query<{ key: string; flag: string; label: string | null; exp: string | Date | null }>(
    `SELECT key, flag, label, exp FROM shl_link
     WHERE manifest_id = $1 AND patient_id = $2 AND revoked_at IS NULL AND (exp IS NULL OR exp > now())`,
    [manifestId, patientId],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  const payload: ShlPayload = { url: `${baseUrl.replace(/\/$/, '')}/${manifestId}`, key: row.key };
  if (row.exp !== null) payload.exp = Math.floor(new Date(row.exp).getTime() / 1000);
  if (row.flag) payload.flag = row.flag;
  if (row.label !== null) payload.label = row.label;
  return payload;
}

export type ManifestResult =
  | { status: 200; body: { files: Array<{ contentType: string; location?: string; embedded?: string; lastUpdated?: string }> } }
  | { status: 401; body: { remainingAttempts: number } }
  | { status: 400 | 404; body: { error: string; error_description: string } };

export interface ManifestRequest {
  recipient?: unknown;
  passcode?: unknown;
  embeddedLengthMax?: unknown;
}

interface LinkRow {
  manifest_id: string;
  patient_id: string;
  key: string;
  flag: string;
  passcode_ok: boolean | null;
  attempts_left: number | null;
}

const notFound: ManifestResult = { status: 404, body: { error: 'not_found', error_description: 'No active SMART Health Link here' } };

/**
 * Manifest ids and file tickets are base64url (43 characters, 256 bits). Anything else names no link and is
 * answered without a database query (a NUL byte, for one, cannot even be sent to PostgreSQL).
 */
export const LINK_TOKEN_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Why a recipient name is refused, if it is. Names are logged: they must be text PostgreSQL can store. */
function recipientProblem(recipient: unknown): string | undefined {
  if (typeof recipient !== 'string' || !recipient.trim()) return 'recipient is required';
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(recipient)) return 'recipient must not hold control characters';
  return undefined;
}

const invalidRequest = (description: string): ManifestResult => ({ status: 400, body: { error: 'invalid_request', error_description: description } });

/**
 * Checks the link (active, not expired, passcode) in one statement: a wrong passcode spends one attempt,
 * a right one spends none, an exhausted link is disabled. Returns the row when access is granted.
 */
async function admit(db: Queryable, manifestId: string, passcode: string | undefined): Promise<LinkRow | { remaining: number } | undefined> {
  const hash = passcode === undefined ? null : passcodeHash(manifestId, passcode);
  const r = await db.query<LinkRow>(
    `UPDATE shl_link SET attempts_left = CASE
         WHEN passcode_hash IS NULL OR passcode_hash = $2 THEN attempts_left ELSE attempts_left - 1 END
       WHERE manifest_id = $1 AND revoked_at IS NULL AND (exp IS NULL OR exp > now())
         AND (passcode_hash IS NULL OR attempts_left > 0)
       RETURNING manifest_id, patient_id, key, flag, attempts_left,
         (passcode_hash IS NULL OR passcode_hash = $2) AS passcode_ok`,
    [manifestId, hash],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  if (!row.passcode_ok) return { remaining: Number(row.attempts_left) };
  return row;
}

async function audit(db: Queryable, manifestId: string, recipient: string, outcome: string): Promise<void> {
  await db.query('INSERT INTO shl_access_log (manifest_id, recipient, outcome) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM shl_link WHERE manifest_id = $1)', [
    manifestId,
    recipient.slice(0, 200),
    outcome,
  ]);
}

async function fileContents(deps: ShlDeps, link: LinkRow): Promise<Array<{ seq: number; contentType: string; content: string; updatedAt: string }>> {
  const files = await deps.db.query<{ seq: number; content_type: string; source: string; content: unknown; updated_at: string }>(
    'SELECT seq, content_type, source, content, updated_at FROM shl_file WHERE manifest_id = $1 ORDER BY seq',
    [link.manifest_id],
  );
  return Promise.all(
    files.rows.map(async (f) => {
      const live = f.source === 'live-bundle';
      if (live && !deps.liveBundle) throw new TypeError('live-bundle files need deps.liveBundle');
      const value = live ? await deps.liveBundle!(link.patient_id) : f.content;
      return {
        seq: f.seq,
        contentType: f.content_type,
        content: JSON.stringify(value),
        updatedAt: live ? new Date().toISOString() : new Date(f.updated_at).toISOString(),
      };
    }),
  );
}

/** `POST {url}` with `{recipient, passcode?, embeddedLengthMax?}`. */
export async function resolveManifest(deps: ShlDeps, manifestId: string, req: ManifestRequest, fileBaseUrl: string): Promise<ManifestResult> {
  const problem = recipientProblem(req.recipient);
  if (problem) return invalidRequest(problem);
  const recipient = req.recipient as string;
  if (!LINK_TOKEN_PATTERN.test(manifestId)) return notFound;
  if (req.passcode !== undefined && typeof req.passcode !== 'string') {
    return { status: 400, body: { error: 'invalid_request', error_description: 'passcode must be a string' } };
  }
  const max = req.embeddedLengthMax;
  if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 0)) {
    return { status: 400, body: { error: 'invalid_request', error_description: 'embeddedLengthMax must be a non-negative integer' } };
  }
  const admitted = await admit(deps.db, manifestId, req.passcode as string | undefined);
  if (!admitted) {
    await audit(deps.db, manifestId, recipient, 'refused');
    return notFound;
  }
  if ('remaining' in admitted) {
    await audit(deps.db, manifestId, recipient, 'wrong-passcode');
    return { status: 401, body: { remainingAttempts: admitted.remaining } };
  }
  if (admitted.flag.includes('U')) return notFound; // U links are fetched by GET only
  const files = [];
  for (const f of await fileContents(deps, admitted)) {
    const jwe = await encryptShlFile(f.content, admitted.key, f.contentType);
    if (max !== undefined && jwe.length <= max) {
      files.push({ contentType: f.contentType, embedded: jwe, lastUpdated: f.updatedAt });
      continue;
    }
    const ticket = randomBytes(32).toString('base64url');
    await deps.db.query(
      `INSERT INTO shl_file_ticket (ticket, manifest_id, seq, expires_at) VALUES ($1, $2, $3, now() + ($4 || ' seconds')::interval)`,
      [ticket, admitted.manifest_id, f.seq, String(LOCATION_TTL_SECONDS)],
    );
    files.push({ contentType: f.contentType, location: `${fileBaseUrl.replace(/\/$/, '')}/${ticket}`, lastUpdated: f.updatedAt });
  }
  await audit(deps.db, manifestId, recipient, 'manifest');
  return { status: 200, body: { files } };
}

/** `GET {location}`: the file as JWE, while the ticket lives and the link is active. */
export async function resolveFileTicket(deps: ShlDeps, ticket: string): Promise<string | undefined> {
  if (!LINK_TOKEN_PATTERN.test(ticket)) return undefined;
  const r = await deps.db.query<LinkRow & { seq: number }>(
    `SELECT s.manifest_id, s.patient_id, s.key, s.flag, t.seq FROM shl_file_ticket t JOIN shl_link s ON s.manifest_id = t.manifest_id
     WHERE t.ticket = $1 AND t.expires_at > now() AND s.revoked_at IS NULL AND (s.exp IS NULL OR s.exp > now())`,
    [ticket],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  const file = (await fileContents(deps, row)).find((f) => f.seq === row.seq);
  return file ? encryptShlFile(file.content, row.key, file.contentType) : undefined;
}

/** Flag U: `GET {url}?recipient=` returns the single file directly. */
export async function resolveDirect(deps: ShlDeps, manifestId: string, recipient: unknown): Promise<{ status: 200; jwe: string } | ManifestResult> {
  const problem = recipientProblem(recipient);
  if (problem || typeof recipient !== 'string') return invalidRequest(problem ?? 'recipient is required');
  if (!LINK_TOKEN_PATTERN.test(manifestId)) return notFound;
  const admitted = await admit(deps.db, manifestId, undefined);
  if (!admitted || 'remaining' in admitted || !admitted.flag.includes('U')) {
    await audit(deps.db, manifestId, recipient, 'refused');
    return notFound;
  }
  const [file] = await fileContents(deps, admitted);
  await audit(deps.db, manifestId, recipient, 'direct-file');
  return { status: 200, jwe: await encryptShlFile(file.content, admitted.key, file.contentType) };
}
