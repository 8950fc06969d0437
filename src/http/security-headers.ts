/**
 * Headers every HTML page the hub serves carries: no page may be framed (clickjacking of the sign-in and consent
 * pages), and none is sniffed into another type. The Content-Security-Policy here fits the hub's own server-made
 * pages (src/auth/pages.ts: an inline stylesheet, forms, no script); routes that serve more (the smart-apps,
 * src/apps/wiring.ts) set their own, which also says `frame-ancestors 'none'`, and keep it.
 *
 * Only HTML answers get them, decided when the head is written: JSON answers stay exactly as the fast lanes in front
 * of Express write them (src/http/fast-get.ts, fast-post.ts), which tests compare byte for byte.
 * @see https://www.w3.org/TR/CSP3/#directive-frame-ancestors
 */
import type http from 'node:http';
import type { NextFunction, Request, Response } from 'express';

/**
 * No `form-action`: browsers apply it to the redirect after the consent form is sent, to the app's redirect_uri on
 * another origin, which would break every sign-in.
 */
export const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'";

function addPageHeaders(res: http.ServerResponse): void {
  if (!/^text\/html/i.test(String(res.getHeader('content-type') ?? ''))) return;
  if (!res.hasHeader('content-security-policy')) res.setHeader('Content-Security-Policy', PAGE_CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
}

export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  // Every way a head is written (res.send, res.end, an explicit writeHead) goes through writeHead.
  const writeHead = res.writeHead;
  res.writeHead = function (this: Response, ...args: unknown[]) {
    addPageHeaders(this);
    return (writeHead as (...a: unknown[]) => Response).apply(this, args);
  } as typeof res.writeHead;
  next();
}
