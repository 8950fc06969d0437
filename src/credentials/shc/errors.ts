/**
 * Why a SMART Health Card was rejected: stable codes a verifier summary (and its tests) can branch on,
 * in the spirit of health-cards-dev-tools' ErrorCode list.
 */
export type HealthCardErrorCode =
  | 'JWS_MALFORMED'
  | 'JWS_HEADER_INVALID'
  | 'DEFLATE_INVALID'
  | 'PAYLOAD_INVALID'
  | 'ISSUER_UNTRUSTED'
  | 'KEY_NOT_FOUND'
  | 'SIGNATURE_INVALID'
  | 'NOT_YET_VALID'
  | 'EXPIRED'
  | 'REVOKED'
  | 'REVOCATION_UNKNOWN'
  | 'BUNDLE_INVALID'
  | 'QR_INVALID'
  | 'FILE_INVALID'
  | 'TOO_LARGE_FOR_QR';

export class HealthCardError extends Error {
  readonly code: HealthCardErrorCode;
  constructor(code: HealthCardErrorCode, message: string) {
    super(message);
    this.name = 'HealthCardError';
    this.code = code;
  }
}

export function isHealthCardError(e: unknown): e is HealthCardError {
  return e instanceof HealthCardError;
}
