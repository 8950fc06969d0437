/**
 * The `.smart-health-card` download: `Content-Type: application/smart-health-card`,
 * body `{"verifiableCredential": [jws, ...]}`.
 * @see https://spec.smarthealth.cards/#via-file-download
 */
import { SMART_HEALTH_CARD_CONTENT_TYPE, type HealthCardFile } from './types.js';

export interface HealthCardDownload {
  contentType: typeof SMART_HEALTH_CARD_CONTENT_TYPE;
  /** Suggested file name for Content-Disposition. */
  fileName: string;
  body: string;
}

export function healthCardFile(jwsList: string[], fileName = 'vaccination-record.smart-health-card'): HealthCardDownload {
  if (!jwsList.length) throw new TypeError('A .smart-health-card file holds at least one card');
  const doc: HealthCardFile = { verifiableCredential: jwsList };
  return { contentType: SMART_HEALTH_CARD_CONTENT_TYPE, fileName, body: JSON.stringify(doc) };
}
