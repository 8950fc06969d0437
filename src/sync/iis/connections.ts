/**
 * Registry connections, configured by admins: endpoint, transport, credentials, facility id, coverage.
 * Stored in iis_connection (migration 600-iis.sql).
 */
import type { Patient } from 'fhir/r4';
import type { Queryable } from '../../store/db.js';
import { MllpTransport } from './mllp-transport.js';
import { SoapTransport } from './soap-transport.js';
import type { IisTransport } from './transport.js';
import type { VxuSender } from './vxu.js';

export interface RegistryCoverage {
  /** Every patient. */
  all?: boolean;
  /** Patients whose address is in one of these states (USPS codes). */
  states?: string[];
  /** Doses given at one of these Location ids. */
  locationIds?: string[];
}

export interface IisConnection {
  id: string;
  name: string;
  transport: 'soap' | 'mllp';
  /** SOAP: service URL; MLLP: `host:port`. */
  endpoint: string;
  credentials: { username?: string; password?: string };
  facilityId?: string;
  sender: VxuSender;
  coverage: RegistryCoverage;
  maxAttempts: number;
  enabled: boolean;
}

interface ConnectionRow {
  id: string;
  name: string;
  transport: 'soap' | 'mllp';
  endpoint: string;
  credentials: IisConnection['credentials'];
  facility_id: string | null;
  sender: VxuSender;
  coverage: RegistryCoverage;
  max_attempts: number;
  enabled: boolean;
}

function fromRow(r: ConnectionRow): IisConnection {
  return {
    id: r.id,
    name: r.name,
    transport: r.transport,
    endpoint: r.endpoint,
    credentials: r.credentials ?? {},
    facilityId: r.facility_id ?? undefined,
    sender: { ...r.sender, facilityId: r.sender.facilityId ?? r.facility_id ?? undefined },
    coverage: r.coverage ?? {},
    maxAttempts: r.max_attempts,
    enabled: r.enabled,
  };
}

/** Creates or replaces a connection (admin operation). */
export async function saveConnection(db: Queryable, c: IisConnection): Promise<void> {
  if (c.transport === 'mllp' && !/^[^:]+:\d+$/.test(c.endpoint)) throw new TypeError('MLLP endpoint must be host:port');
  await db.query(
    `INSERT INTO iis_connection (id, name, transport, endpoint, credentials, facility_id, sender, coverage, max_attempts, enabled)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, transport = EXCLUDED.transport, endpoint = EXCLUDED.endpoint,
       credentials = EXCLUDED.credentials, facility_id = EXCLUDED.facility_id, sender = EXCLUDED.sender,
       coverage = EXCLUDED.coverage, max_attempts = EXCLUDED.max_attempts, enabled = EXCLUDED.enabled`,
    [c.id, c.name, c.transport, c.endpoint, JSON.stringify(c.credentials), c.facilityId ?? null, JSON.stringify(c.sender), JSON.stringify(c.coverage), c.maxAttempts, c.enabled],
  );
}

export async function getConnection(db: Queryable, id: string): Promise<IisConnection | undefined> {
  const r = await db.query<ConnectionRow>('SELECT * FROM iis_connection WHERE id = $1', [id]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

export async function listConnections(db: Queryable): Promise<IisConnection[]> {
  const r = await db.query<ConnectionRow>('SELECT * FROM iis_connection ORDER BY id');
  return r.rows.map(fromRow);
}

/** Does this connection cover a dose for this patient given at this location? */
export function covers(c: IisConnection, patient: Patient, locationId?: string): boolean {
  if (!c.enabled) return false;
  if (c.coverage.all) return true;
  if (locationId && c.coverage.locationIds?.includes(locationId)) return true;
  const states = (patient.address ?? []).map((a) => a.state?.toUpperCase()).filter(Boolean);
  return Boolean(c.coverage.states?.some((s) => states.includes(s.toUpperCase())));
}

/** The transport for a connection. */
export function transportFor(c: IisConnection, timeoutMs?: number): IisTransport {
  if (c.transport === 'mllp') {
    const [host, port] = c.endpoint.split(':');
    return new MllpTransport({ transport: 'mllp', host: host!, port: Number(port), timeoutMs });
  }
  return new SoapTransport({ transport: 'soap', url: c.endpoint, ...c.credentials, facilityId: c.facilityId, timeoutMs });
}
