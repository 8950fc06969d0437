/**
 * The HTML alternative of an appointment mail (issue 21: the confirmation carries a QR code of the booking
 * reference). The same words as the text part, the reference in large readable characters, and its QR code as an
 * inline PNG (a `cid:` attachment, so a mail client shows it without fetching anything; the check-in page at the
 * door scans it). Accessible: the mail's language on `<html>`, a title and one heading, the facts as a description
 * list, the image's alt text naming the reference, real text (never text in an image), contrast above 7:1.
 */
import QRCode from 'qrcode';
import { formatReference, parseReference } from '../scheduling/booking-reference.js';
import type { MailLanguage } from './mail-locale.js';
import { appointmentFields, mailText, type AppointmentFacts, type PublicMailKey } from './public-mail.js';

/** A file sent with a mail; `cid` makes it an inline part the HTML refers to as `cid:...`. */
export interface MailAttachment {
  filename: string;
  content: Buffer;
  contentType: string;
  cid: string;
}

/** A mail with a text part and its HTML alternative. */
export interface RichMail {
  subject: string;
  text: string;
  html: string;
  attachments: MailAttachment[];
}

/** The Content-ID of the booking reference's QR code in an appointment mail. */
export const REFERENCE_QR_CID = 'booking-reference-qr@vaxhub';

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The PNG QR code of a short booking reference as people see it (`ABCD-EFGH`), or nothing for an old id. */
export async function referenceQrPng(reference: string): Promise<{ shown: string; png: Buffer } | undefined> {
  const parsed = parseReference(reference);
  if (!parsed.ok) return undefined;
  const shown = formatReference(parsed.reference);
  // Level M and a 4-module quiet zone (the QR standard's), 8 px a module: about 264 px, sharp on a phone held up.
  return { shown, png: await QRCode.toBuffer(shown, { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale: 8 }) };
}

/**
 * The text mail given, with its HTML alternative: `intro`, the appointment's facts, the reference large with its QR
 * code (when it is a short reference), and `closing`.
 */
export async function withHtmlAlternative(
  language: MailLanguage,
  mail: { subject: string; text: string },
  f: AppointmentFacts,
  words: { intro: PublicMailKey; closing: PublicMailKey },
): Promise<RichMail> {
  const qr = await referenceQrPng(f.reference);
  const shownRef = qr?.shown ?? f.reference;
  const rows = appointmentFields(language, f)
    .filter(([k]) => k !== 'label.ref')
    .map(([k, v]) => {
      const value = k === 'label.map' ? `<a href="${escapeHtml(v)}" style="color:#0b4f9c">${escapeHtml(v)}</a>` : escapeHtml(v);
      return `<dt style="font-weight:700;margin-top:8px">${escapeHtml(mailText(language, k))}</dt><dd style="margin:0;overflow-wrap:anywhere;word-break:break-word">${value}</dd>`;
    })
    .join('\n');
  const qrBlock = qr
    ? `<p style="margin:8px 0"><img src="cid:${REFERENCE_QR_CID}" width="264" height="264" alt="${escapeHtml(mailText(language, 'label.qrAlt', { ref: qr.shown }))}" style="display:block;border:0;max-width:100%;height:auto"></p>
<p style="margin:4px 0">${escapeHtml(mailText(language, 'label.qr'))}</p>`
    : '';
  const html = `<!DOCTYPE html>
<html lang="${language}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(mail.subject)}</title></head>
<body style="margin:0;padding:16px;background:#ffffff;color:#1a1a1a;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5">
<main>
<h1 style="font-size:22px;margin:0 0 12px">${escapeHtml(mail.subject)}</h1>
<p>${escapeHtml(mailText(language, words.intro))}</p>
<dl style="margin:0 0 16px">
${rows}
</dl>
<section aria-label="${escapeHtml(mailText(language, 'label.ref'))}" style="box-sizing:border-box;border:2px solid #1a1a1a;border-radius:8px;padding:12px;max-width:320px">
<p style="margin:0">${escapeHtml(mailText(language, 'label.ref'))}</p>
<p style="margin:4px 0;font-size:34px;font-weight:700;letter-spacing:3px;font-family:'Courier New',Courier,monospace">${escapeHtml(shownRef)}</p>
${qrBlock}
</section>
<p>${escapeHtml(mailText(language, words.closing))}</p>
</main>
</body>
</html>`;
  return {
    ...mail,
    html,
    attachments: qr ? [{ filename: `booking-${qr.shown}.png`, content: qr.png, contentType: 'image/png', cid: REFERENCE_QR_CID }] : [],
  };
}
