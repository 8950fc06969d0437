/**
 * The CDC IIS SOAP web service client (WSDL `urn:cdc:iisb:2011`, SOAP 1.2 only): submitSingleMessage and
 * connectivityTest, with the WSDL's faults (UnknownFault, SecurityFault, MessageTooLargeFault,
 * UnsupportedOperationFault) mapped to IisTransportError.
 * @see https://www.cdc.gov/vaccines/programs/iis/technical-guidance/soap/services.html
 * The WSDL in ./wsdl is the CDC one with its XSD import pointed at the local copy (the original points at
 * `/dev/IISService?xsd=...`, a path on the publishing server).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as soap from 'soap';
import { IisTransportError, type IisTransport, type SoapEndpoint, type TransportFailure } from './transport.js';

export const CDC_IIS_2011_WSDL = path.join(path.dirname(fileURLToPath(import.meta.url)), 'wsdl', 'cdc-iis-2011.wsdl');

interface SoapFaultShape {
  root?: { Envelope?: { Body?: { Fault?: Record<string, unknown> } } };
  response?: { status?: number };
  code?: string;
  message?: string;
}

const FAULTS: Record<string, TransportFailure> = {
  fault: 'unknown-fault',
  UnknownFault: 'unknown-fault',
  SecurityFault: 'security-fault',
  MessageTooLargeFault: 'message-too-large',
  UnsupportedOperationFault: 'unsupported-operation',
};

function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return text(o.Text ?? o.$value ?? o.Value ?? Object.values(o)[0]);
  }
  return String(v);
}

/** Turns what the soap client throws into an IisTransportError naming the CDC fault. */
export function mapSoapError(e: unknown): IisTransportError {
  const err = e as SoapFaultShape;
  const fault = err.root?.Envelope?.Body?.Fault;
  if (fault) {
    const detail = (fault.Detail ?? fault.detail) as Record<string, unknown> | undefined;
    const [name, body] = detail && typeof detail === 'object' ? (Object.entries(detail).find(([k]) => FAULTS[k]) ?? []) : [];
    const failure = (name && FAULTS[name]) || 'unknown-fault';
    const b = (body ?? {}) as Record<string, unknown>;
    const reason = text(b.Reason) ?? text(fault.Reason) ?? 'SOAP fault';
    return new IisTransportError(failure, `${name ?? 'SOAP fault'}: ${reason}`, { code: text(b.Code) ?? text(fault.Code), reason, detail: text(b.Detail) });
  }
  const status = err.response?.status;
  if (status && status < 500 && status !== 408 && status !== 429) {
    return new IisTransportError('protocol', `HTTP ${status} from the registry`);
  }
  return new IisTransportError('network', err.message ?? String(e));
}

type Operation = (args: Record<string, unknown>, options?: Record<string, unknown>) => Promise<[Record<string, unknown> | null, string]>;

export class SoapTransport implements IisTransport {
  readonly kind = 'soap' as const;
  private client?: Promise<soap.Client>;
  private lastClient?: soap.Client;
  constructor(private readonly endpoint: SoapEndpoint) {}

  private getClient(): Promise<soap.Client> {
    this.client ??= soap.createClientAsync(CDC_IIS_2011_WSDL, { forceSoap12Headers: true, endpoint: this.endpoint.url });
    return this.client;
  }

  private async call(op: 'submitSingleMessage' | 'connectivityTest', args: Record<string, unknown>): Promise<string> {
    const client = await this.getClient();
    this.lastClient = client;
    const fn = (client as unknown as Record<string, Operation>)[`${op}Async`]!.bind(client);
    try {
      const [result] = await fn(args, { timeout: this.endpoint.timeoutMs ?? 30_000 });
      const value = result?.return;
      if (typeof value !== 'string') throw new IisTransportError('protocol', `${op} answered without a return value`);
      return value;
    } catch (e) {
      if (e instanceof IisTransportError) throw e;
      throw mapSoapError(e);
    }
  }

  /** submitSingleMessage: one HL7 message in, the registry's ACK/RSP out. */
  send(hl7: string): Promise<string> {
    const args: Record<string, unknown> = {};
    if (this.endpoint.username !== undefined) args.username = this.endpoint.username;
    if (this.endpoint.password !== undefined) args.password = this.endpoint.password;
    if (this.endpoint.facilityId !== undefined) args.facilityID = this.endpoint.facilityId;
    args.hl7Message = hl7;
    return this.call('submitSingleMessage', args);
  }

  /** The last SOAP envelope sent (for diagnostics and the audit trail). */
  lastRequest(): string {
    return this.lastClient?.lastRequest ?? '';
  }

  /** connectivityTest: the registry echoes the text back. */
  connectivityTest(echoBack: string): Promise<string> {
    return this.call('connectivityTest', { echoBack });
  }

  async close(): Promise<void> {
    this.client = undefined;
  }
}
