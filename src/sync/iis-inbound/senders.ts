/**
 * EHRs registered to report doses to the hub over HL7 v2. A SOAP sender is known by its submitSingleMessage
 * username, password (kept as an scrypt hash) and facilityID; an MLLP sender by the address it connects from and
 * the sending facility (MSH-4) it writes. A message from anyone else is refused, never processed.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type BinaryLike, type ScryptOptions } from 'node:crypto';
import type { Queryable } from '../../store/db.js';
import { parseHl7 } from '../iis/hl7-message.js';

export interface IisSender {
  id: string;
  name: string;
  /** MSH-4.1 values the sender writes; empty: any. */
  facilities: string[];
  soapUsername?: string;
  soapFacilityId?: string;
  /** Source addresses the sender's MLLP connections come from. */
  mllpSources: string[];
  enabled: boolean;
}

export interface SenderInput {
  id: string;
  name: string;
  facilities?: string[];
  soapUsername?: string;
  soapPassword?: string;
  soapFacilityId?: string;
  mllpSources?: string[];
  enabled?: boolean;
}

interface Row {
  id: string;
  name: string;
  facilities: string[];
  soap_username: string | null;
  soap_password_hash: string | null;
  soap_facility_id: string | null;
  mllp_sources: string[];
  enabled: boolean;
}

const ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

function scrypt(password: BinaryLike, salt: BinaryLike, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keylen, opts, (e, key) => (e ? reject(e) : resolve(key))));
}

const SCRYPT = { N: 16384, r: 8, p: 1 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const parts = stored?.split('$') ?? [];
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    await scrypt(password, 'no-such-sender', 32, SCRYPT); // the same work either way: no timing tells a name exists
    return false;
  }
  const [, n, r, p, salt, key] = parts;
  const expected = Buffer.from(key!, 'base64url');
  const got = await scrypt(password, Buffer.from(salt!, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(expected, got);
}

function fromRow(r: Row): IisSender {
  return {
    id: r.id,
    name: r.name,
    facilities: r.facilities,
    ...(r.soap_username ? { soapUsername: r.soap_username } : {}),
    ...(r.soap_facility_id ? { soapFacilityId: r.soap_facility_id } : {}),
    mllpSources: r.mllp_sources,
    enabled: r.enabled,
  };
}

/** Normalises a socket address: `::ffff:127.0.0.1` (IPv4 on a dual-stack socket) is `127.0.0.1`. */
export function normalizeAddress(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1').toLowerCase();
}

/** Adds or replaces a sender. A password given is stored hashed; none given keeps the stored one. */
export async function saveSender(db: Queryable, s: SenderInput): Promise<IisSender> {
  if (!ID.test(s.id)) throw new Error('sender id: lower-case letters, digits and dashes, starting with a letter or digit');
  if (!s.name.trim()) throw new Error('sender name is required');
  if (s.soapPassword !== undefined && !s.soapUsername) throw new Error('a SOAP password needs a SOAP username');
  if (s.soapUsername && s.soapPassword !== undefined && s.soapPassword.length < 12) throw new Error('the SOAP password must be at least 12 characters');
  if (!s.soapUsername && !(s.mllpSources ?? []).length) throw new Error('a sender needs SOAP credentials, MLLP source addresses, or both');
  if ((s.mllpSources ?? []).length && !(s.facilities ?? []).length) throw new Error('an MLLP sender needs the sending facility (MSH-4) it writes');
  const hash = s.soapPassword !== undefined ? await hashPassword(s.soapPassword) : null;
  const r = await db.query<Row>(
    `INSERT INTO iis_sender (id, name, facilities, soap_username, soap_password_hash, soap_facility_id, mllp_sources, enabled)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (id) DO UPDATE SET name = $2, facilities = $3, soap_username = $4,
       soap_password_hash = COALESCE($5, iis_sender.soap_password_hash), soap_facility_id = $6, mllp_sources = $7, enabled = $8
     RETURNING *`,
    [s.id, s.name.trim(), s.facilities ?? [], s.soapUsername ?? null, hash, s.soapFacilityId ?? null, (s.mllpSources ?? []).map(normalizeAddress), s.enabled ?? true],
  );
  return fromRow(r.rows[0]!);
}

export async function listSenders(db: Queryable): Promise<IisSender[]> {
  return (await db.query<Row>('SELECT * FROM iis_sender ORDER BY id')).rows.map(fromRow);
}

export async function removeSender(db: Queryable, id: string): Promise<boolean> {
  return (await db.query(`UPDATE iis_sender SET enabled = false WHERE id = $1`, [id])).rowCount > 0;
}

/** SOAP: username, password and facilityID must all agree with one enabled sender. */
export async function authenticateSoap(db: Queryable, username: string, password: string, facilityId: string): Promise<IisSender | undefined> {
  const r = await db.query<Row>('SELECT * FROM iis_sender WHERE soap_username = $1 AND enabled', [username]);
  const row = r.rows[0];
  const ok = await verifyPassword(password, row?.soap_password_hash ?? null);
  if (!row || !ok) return undefined;
  if (row.soap_facility_id && row.soap_facility_id !== facilityId) return undefined;
  return fromRow(row);
}

/** MLLP: the enabled sender that connects from this address and writes this sending facility (MSH-4.1). */
export async function authenticateMllp(db: Queryable, address: string | undefined, facility: string): Promise<IisSender | undefined> {
  if (!facility) return undefined;
  const r = await db.query<Row>('SELECT * FROM iis_sender WHERE enabled AND $1 = ANY (mllp_sources) AND $2 = ANY (facilities)', [normalizeAddress(address), facility]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

export interface InboundMessageRecord {
  id: number;
  senderId?: string;
  transport: 'mllp' | 'soap';
  remoteAddress?: string;
  controlId?: string;
  messageType?: string;
  ackCode: string;
  state: 'processed' | 'held' | 'refused';
  patientId?: string;
  /** The ERR-8 texts of the answer: what the sender was told. */
  problems: string[];
  receivedAt: string;
}

/** `E MSH^1^4: No registered sender...` for each ERR of an answer (HL7 escapes read). */
function problemsOf(ack: string): string[] {
  try {
    return parseHl7(ack)
      .all('ERR')
      .map((e) => `${e.get(4)} ${e.repetitions(2)[0]?.map((c) => c[0]).filter(Boolean).join('^') ?? ''}: ${e.get(8)}`.trim());
  } catch {
    return [];
  }
}

/** Messages received, newest first: what each sender sent and was answered (refused and held ones included). */
export async function findInboundMessages(db: Queryable, f: { senderId?: string; state?: string; limit?: number } = {}): Promise<InboundMessageRecord[]> {
  const r = await db.query<{ id: string; sender_id: string | null; transport: 'mllp' | 'soap'; remote_address: string | null; control_id: string | null; message_type: string | null; ack_code: string; ack_text: string; state: InboundMessageRecord['state']; patient_id: string | null; received_at: Date | string }>(
    `SELECT id, sender_id, transport, remote_address, control_id, message_type, ack_code, ack_text, state, patient_id, received_at FROM iis_inbound_message
     WHERE ($1::text IS NULL OR sender_id = $1) AND ($2::text IS NULL OR state = $2) ORDER BY id DESC LIMIT $3`,
    [f.senderId ?? null, f.state ?? null, Math.min(Math.max(f.limit ?? 100, 1), 10_000)],
  );
  return r.rows.map((x) => ({
    id: Number(x.id),
    ...(x.sender_id ? { senderId: x.sender_id } : {}),
    transport: x.transport,
    ...(x.remote_address ? { remoteAddress: x.remote_address } : {}),
    ...(x.control_id ? { controlId: x.control_id } : {}),
    ...(x.message_type ? { messageType: x.message_type } : {}),
    ackCode: x.ack_code,
    state: x.state,
    ...(x.patient_id ? { patientId: x.patient_id } : {}),
    problems: problemsOf(x.ack_text),
    receivedAt: new Date(x.received_at).toISOString(),
  }));
}
