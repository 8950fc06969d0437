/**
 * SHL file encryption: JWE compact, `alg: dir`, `enc: A256GCM`, `cty` = the file's content type.
 * jose draws a fresh random IV for every encryption, as the spec requires for a key reused over time.
 * @see https://hl7.org/fhir/uv/smart-health-cards-and-links/links-specification.html#encrypting-and-decrypting-files
 */
import { CompactEncrypt, base64url, compactDecrypt } from 'jose';

export async function encryptShlFile(content: string, key: string, contentType: string): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(content))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: contentType })
    .encrypt(base64url.decode(key));
}

export async function decryptShlFile(jwe: string, key: string): Promise<{ contentType?: string; content: string }> {
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, base64url.decode(key));
  return { contentType: protectedHeader.cty, content: new TextDecoder().decode(plaintext) };
}
