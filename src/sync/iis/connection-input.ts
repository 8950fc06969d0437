/**
 * Reads an admin's `PUT /admin/iis/connections/:id` body into an IisConnection, collecting every problem into one
 * 400 OperationOutcome (bad input from an operator is never a 500).
 */
import type { OperationOutcomeIssue } from 'fhir/r4';
import { validationError } from '../../fhir/outcomes.js';
import type { IisConnection, RegistryCoverage } from './connections.js';
import type { VxuSender } from './vxu.js';

type Body = Record<string, unknown>;

const isObject = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every(isText);

function problem(diagnostics: string, expression: string): OperationOutcomeIssue {
  return { severity: 'error', code: 'invalid', diagnostics, expression: [expression] };
}

function checkEndpoint(transport: unknown, endpoint: unknown, out: OperationOutcomeIssue[]): void {
  if (!isText(endpoint)) return void out.push(problem('endpoint is required', 'endpoint'));
  if (transport === 'mllp') {
    const m = /^([^:\s]+):(\d{1,5})$/.exec(endpoint);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) out.push(problem('an MLLP endpoint is host:port', 'endpoint'));
  } else if (transport === 'soap') {
    if (!URL.canParse(endpoint) || !['http:', 'https:'].includes(new URL(endpoint).protocol)) out.push(problem('a SOAP endpoint is an absolute http(s) URL of the CDC IIS web service', 'endpoint'));
  }
}

function checkSender(sender: unknown, out: OperationOutcomeIssue[]): void {
  if (!isObject(sender)) return void out.push(problem('sender (MSH sending application/facility, assigning authority) is required', 'sender'));
  for (const f of ['sendingApplication', 'sendingFacility', 'assigningAuthority'] as const) {
    if (!isText(sender[f])) out.push(problem(`sender.${f} is required`, `sender.${f}`));
  }
  for (const f of ['receivingApplication', 'receivingFacility', 'facilityId', 'facilityName'] as const) {
    if (sender[f] !== undefined && !isText(sender[f])) out.push(problem(`sender.${f} must be text`, `sender.${f}`));
  }
  if (sender.processingId !== undefined && !['P', 'T', 'D'].includes(sender.processingId as string)) {
    out.push(problem('sender.processingId is P, T or D (MSH-11)', 'sender.processingId'));
  }
  const off = sender.utcOffsetMinutes;
  if (off !== undefined && (!Number.isInteger(off) || Math.abs(off as number) > 14 * 60)) {
    out.push(problem('sender.utcOffsetMinutes is whole minutes east of UTC', 'sender.utcOffsetMinutes'));
  }
}

function checkCoverage(coverage: unknown, out: OperationOutcomeIssue[]): void {
  if (coverage === undefined) return;
  if (!isObject(coverage)) return void out.push(problem('coverage is an object {all?, states?, locationIds?}', 'coverage'));
  if (coverage.all !== undefined && typeof coverage.all !== 'boolean') out.push(problem('coverage.all is true or false', 'coverage.all'));
  for (const f of ['states', 'locationIds'] as const) {
    if (coverage[f] !== undefined && !isStringList(coverage[f])) out.push(problem(`coverage.${f} is a list of strings`, `coverage.${f}`));
  }
}

/** Validates and normalises an admin's connection body; throws a 400 listing every problem. */
export function readConnectionInput(id: string, body: unknown): IisConnection {
  const out: OperationOutcomeIssue[] = [];
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) out.push(problem('connection id is 1-64 letters, digits, . _ -', 'id'));
  if (!isObject(body)) throw validationError(400, [...out, problem('the body is a JSON object', '$')]);
  if (!isText(body.name)) out.push(problem('name is required', 'name'));
  if (body.transport !== 'soap' && body.transport !== 'mllp') out.push(problem('transport is soap or mllp', 'transport'));
  checkEndpoint(body.transport, body.endpoint, out);
  checkSender(body.sender, out);
  checkCoverage(body.coverage, out);
  const creds = body.credentials;
  if (creds !== undefined && (!isObject(creds) || (creds.username !== undefined && typeof creds.username !== 'string') || (creds.password !== undefined && typeof creds.password !== 'string'))) {
    out.push(problem('credentials is {username?, password?} with string values', 'credentials'));
  }
  if (body.facilityId !== undefined && !isText(body.facilityId)) out.push(problem('facilityId must be text', 'facilityId'));
  const max = body.maxAttempts;
  if (max !== undefined && (!Number.isInteger(max) || (max as number) < 1 || (max as number) > 100)) out.push(problem('maxAttempts is an integer from 1 to 100', 'maxAttempts'));
  if (body.enabled !== undefined && typeof body.enabled !== 'boolean') out.push(problem('enabled is true or false', 'enabled'));
  if (out.length) throw validationError(400, out);
  return {
    id,
    name: body.name as string,
    transport: body.transport as IisConnection['transport'],
    endpoint: (body.endpoint as string).trim(),
    credentials: (creds as IisConnection['credentials'] | undefined) ?? {},
    facilityId: body.facilityId as string | undefined,
    sender: body.sender as unknown as VxuSender,
    coverage: (body.coverage as RegistryCoverage | undefined) ?? {},
    maxAttempts: (max as number | undefined) ?? 8,
    enabled: (body.enabled as boolean | undefined) ?? true,
  };
}
