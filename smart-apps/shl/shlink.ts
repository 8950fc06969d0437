/**
 * The recipient's side of a SMART Health Link, in the browser: read the `shlink:/` payload, ask the manifest
 * (with recipient and passcode), fetch each file, and decrypt it (JWE compact, `dir` + A256GCM) with the key
 * that only ever travelled in the link itself. Nothing is decrypted on a server.
 * @see https://hl7.org/fhir/uv/smart-health-cards-and-links/links-specification.html#shlink-payload
 */
import { base64url, compactDecrypt } from 'jose';

export interface ShlPayload {
  url: string;
  key: string;
  exp?: number;
  flag?: string;
  label?: string;
  v?: number;
}

export interface ShlFile {
  contentType: string;
  content: string;
}

export type ManifestOutcome =
  | { kind: 'files'; files: ShlFile[] }
  | { kind: 'wrong-passcode'; remainingAttempts: number }
  | { kind: 'gone' };

/** Finds `shlink:/...` anywhere in a URL (bare, or after a viewer's `#`) and decodes its payload. */
export function parseShlink(href: string): ShlPayload | undefined {
  const at = href.indexOf('shlink:/');
  if (at < 0) return undefined;
  const encoded = href.slice(at + 'shlink:/'.length).split(/[?#&\s]/)[0]!;
  const payload = JSON.parse(new TextDecoder().decode(base64url.decode(encoded))) as ShlPayload;
  if (typeof payload.url !== 'string' || !/^https?:\/\//.test(payload.url)) throw new Error('the link has no valid url');
  if (typeof payload.key !== 'string' || base64url.decode(payload.key).length !== 32) throw new Error('the link key is not 32 bytes');
  if (payload.flag !== undefined && !/^[LPU]*$/.test(payload.flag)) throw new Error(`unknown flag ${payload.flag}`);
  return payload;
}

export function isExpired(p: ShlPayload, now = Date.now()): boolean {
  return p.exp !== undefined && p.exp * 1000 <= now;
}

export async function decryptFile(jwe: string, key: string): Promise<ShlFile> {
  const { plaintext, protectedHeader } = await compactDecrypt(jwe.trim(), base64url.decode(key));
  if (protectedHeader.alg !== 'dir' || protectedHeader.enc !== 'A256GCM') throw new Error('unexpected file encryption');
  return { contentType: protectedHeader.cty ?? 'application/octet-stream', content: new TextDecoder().decode(plaintext) };
}

/** Manifest request (or the direct GET of a U link), then every file fetched and decrypted. */
export async function openLink(p: ShlPayload, recipient: string, passcode?: string): Promise<ManifestOutcome> {
  if (p.flag?.includes('U')) {
    const res = await fetch(`${p.url}?recipient=${encodeURIComponent(recipient)}`);
    if (res.status === 404) return { kind: 'gone' };
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return { kind: 'files', files: [await decryptFile(await res.text(), p.key)] };
  }
  const res = await fetch(p.url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ recipient, ...(passcode !== undefined ? { passcode } : {}) }),
  });
  if (res.status === 401) return { kind: 'wrong-passcode', remainingAttempts: ((await res.json()) as { remainingAttempts: number }).remainingAttempts };
  if (res.status === 404) return { kind: 'gone' };
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const manifest = (await res.json()) as { files: Array<{ contentType: string; embedded?: string; location?: string }> };
  const files = await Promise.all(
    manifest.files.map(async (f) => {
      let jwe = f.embedded;
      if (!jwe && f.location) {
        const file = await fetch(f.location);
        if (!file.ok) throw new Error(`file: HTTP ${file.status}`);
        jwe = await file.text();
      }
      if (!jwe) throw new Error('manifest file without content');
      return decryptFile(jwe, p.key);
    }),
  );
  return { kind: 'files', files };
}
