/**
 * What the outbox needs from a way of reaching a registry: send one HL7 v2 message, get the answer text back.
 * Failures are IisTransportError with a retry decision, so the outbox never guesses from error strings.
 */

export type TransportFailure =
  | 'network' // connection refused/reset, timeout, HTTP 5xx without a SOAP fault: the registry may not have it
  | 'unknown-fault' // CDC UnknownFault: the registry failed while processing
  | 'security-fault' // CDC SecurityFault: credentials/facility refused; fixed on the connection, not the message
  | 'message-too-large' // CDC MessageTooLargeFault: this message can never pass as it is
  | 'unsupported-operation' // CDC UnsupportedOperationFault
  | 'protocol'; // the peer answered something that is not HL7 / SOAP we can read

export class IisTransportError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly failure: TransportFailure,
    message: string,
    /** Fault Code/Reason/Detail as the registry sent them, for the audit trail. */
    readonly detail?: { code?: string; reason?: string; detail?: string },
  ) {
    super(message);
    this.name = 'IisTransportError';
    // A message that is too large, or an operation the registry does not support, fails the same way every time.
    this.retryable = failure !== 'message-too-large' && failure !== 'unsupported-operation';
  }
}

export interface IisTransport {
  readonly kind: 'soap' | 'mllp';
  /** Sends one HL7 v2 message and resolves with the registry's answer (ACK or RSP) as text. */
  send(hl7: string): Promise<string>;
  close(): Promise<void>;
}

export interface SoapEndpoint {
  transport: 'soap';
  /** https://registry.example/IISService2011 */
  url: string;
  username?: string;
  password?: string;
  facilityId?: string;
  timeoutMs?: number;
}

export interface MllpEndpoint {
  transport: 'mllp';
  host: string;
  port: number;
  timeoutMs?: number;
}

export type IisEndpoint = SoapEndpoint | MllpEndpoint;
