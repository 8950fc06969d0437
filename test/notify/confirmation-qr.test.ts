/**
 * Issue 21: the booking confirmation carries a QR code of the booking reference. The mail the hub sends over SMTP
 * is multipart/alternative (text, and HTML with the reference in large text and the QR code as an inline PNG, a
 * `cid:` part); the PNG decoded with jsQR (as the check-in scanner decodes camera frames) gives the reference back,
 * which the scanner's own parser accepts, FHIR finds and `$check-in` checks in. On PGlite and PostgreSQL. In
 * Chromium, the HTML in each language passes axe-core (no critical, serious or moderate violation).
 */
import { randomBytes } from 'node:crypto';
import jsQRModule, { type QRCode as JsQrCode } from 'jsqr';
import { PNG } from 'pngjs';
import type { Appointment, Bundle, Location } from 'fhir/r4';
import { ADMIN_CLIENT_ID } from '../../src/apps/wiring.js';
import { addStaff } from '../../src/auth/staff.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { REFERENCE_QR_CID, withHtmlAlternative } from '../../src/notify/appointment-mail-html.js';
import { bookedMail } from '../../src/notify/public-mail.js';
import { communicationFor, type MailLanguage } from '../../src/notify/mail-locale.js';
import { BOOKING_REFERENCE_SYSTEM, checkCharacter, formatReference, parseReference, referenceOfAppointment } from '../../src/scheduling/booking-reference.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { backends, type TestHub } from '../helpers/hub.js';
import { startMailbox, type RawMail, type Mailbox } from '../helpers/mailbox.js';
import { leaves, parseMime, partOfType } from '../helpers/mime.js';
import { startOpeningNightHub } from '../opening-night/opening-night-hub.js';
import { seedClinic } from '../scheduling/support.js';
import { axeScan, describeInBrowser, launchChromium } from '../apps/browser-rig.js';

const jsQR = ((jsQRModule as unknown as { default?: unknown }).default ?? jsQRModule) as (data: Uint8ClampedArray, width: number, height: number) => JsQrCode | null;
const tag = randomBytes(3).toString('hex');

/** What jsQR reads in a PNG (the scanner gives it camera frames as RGBA; a PNG decodes to the same). */
function readQr(png: Buffer): string | undefined {
  const img = PNG.sync.read(png);
  return jsQR(new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length), img.width, img.height)?.data;
}

describe.each(backends())('the booking confirmation\'s QR code (%s)', (backend) => {
  let t: TestHub;
  let mailbox: Mailbox<RawMail>;
  let token: string;
  let slotId: string;

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startOpeningNightHub(backend, { smtpUrl: mailbox.url });
    const { account } = await addStaff(t.hub.db, t.hub.repo, { email: `qr.${tag}@clinic.example`, name: 'Quinn Code' });
    token = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, {
      client_id: ADMIN_CLIENT_ID, scope: 'user/Practitioner.r openid fhirUser vaxhub/operator', kind: 'user', sub: account.fhirUser, fhirUser: account.fhirUser,
    }, 3600)).token;
    const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    slotId = (await seedClinic({ db: t.hub.db, repo: t.hub.repo, products: loadProducts() }, { cvx: '187', slots: 1, capacity: 2, doses: 5, day, lot: `QR-${tag}` })).slotIds[0]!;
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await mailbox?.close();
  });

  const call = async <T>(method: string, path: string, body?: unknown, type = 'application/json'): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${t.url}${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': type }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T };
  };

  it('mails text and HTML with the reference large and its QR code inline; the code reads back and checks the person in', async () => {
    const email = `qr-${tag}@example.org`;
    // A person whose record says Spanish: the confirmation is rendered in it.
    const patient = await call<{ id: string }>('POST', '/fhir/Patient', {
      resourceType: 'Patient', name: [{ family: `Quirke-${tag}`, given: ['Rosa'] }], birthDate: '1944-04-04',
      telecom: [{ system: 'email', value: email }], communication: [communicationFor('es')],
    }, 'application/fhir+json');
    expect(patient.status).toBe(201);
    const booked = await call<{ appointment: Appointment }>('POST', '/admin/front-desk/bookings', { patientId: patient.body.id, slotId, reason: 'Booked by phone, no invitation yet' });
    expect(booked.status).toBe(201);
    const reference = referenceOfAppointment(booked.body.appointment)!;
    const shown = formatReference(reference);

    const raw = (await mailbox.waitFor((m) => m.to.includes(email), 30_000)).raw;
    const mail = parseMime(raw);
    expect(mail.type).toBe('multipart/alternative');
    expect(mail.parts.map((p) => p.type)).toEqual(['text/plain', expect.stringMatching(/^(text\/html|multipart\/related)$/)]);
    const text = partOfType(mail, 'text/plain')!.body.toString('utf8');
    expect(text).toContain(shown);
    expect(text).toContain('Su cita de vacunación está reservada');

    const html = partOfType(mail, 'text/html')!.body.toString('utf8');
    expect(html).toContain('<html lang="es">');
    // The reference in large readable text, and the image by its Content-ID with an alt text naming the reference.
    expect(html).toMatch(new RegExp(`font-size:34px[^>]*>${shown}<`));
    expect(html).toContain(`src="cid:${REFERENCE_QR_CID}"`);
    expect(html).toContain(`alt="Código QR de su referencia de cita ${shown}"`);

    const image = leaves(mail).find((p) => p.type === 'image/png')!;
    expect(image.headers['content-id']).toBe(`<${REFERENCE_QR_CID}>`);
    expect(image.headers['content-disposition'] ?? 'inline').toMatch(/^inline/);
    const read = readQr(image.body);
    expect(read).toBe(shown);

    // What the check-in scanner does with it: its parser accepts it, FHIR finds the booking, $check-in checks in.
    const parsed = parseReference(read!);
    expect(parsed).toEqual({ ok: true, reference });
    const found = await call<Bundle>('GET', `/fhir/Appointment?identifier=${encodeURIComponent(`${BOOKING_REFERENCE_SYSTEM}|${reference}`)}`);
    expect(found.body.entry?.map((e) => e.resource?.id)).toEqual([booked.body.appointment.id]);
    const checkedIn = await call<Appointment>('POST', `/fhir/Appointment/${booked.body.appointment.id}/$check-in`, { resourceType: 'Parameters' }, 'application/fhir+json');
    expect(checkedIn.status).toBe(200);
    expect(checkedIn.body.status).toBe('checked-in');
  }, 120_000);
});

describeInBrowser('the confirmation\'s HTML in Chromium', () => {
  it('passes axe-core in English, Spanish and Korean at phone size', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
      const location: Location = { resourceType: 'Location', name: 'Clinic Pittsfield', address: { line: ['1 North St'], city: 'Pittsfield', state: 'MA', postalCode: '01201' }, position: { latitude: 42.45, longitude: -73.25 } };
      const facts = { start: '2031-05-06T14:30:00Z', timeZone: 'America/New_York', productName: 'COMIRNATY', location, reference: formatReference(`ABCDEFG${checkCharacter('ABCDEFG')}`) };
      for (const language of ['en', 'es', 'ko'] as MailLanguage[]) {
        const mail = await withHtmlAlternative(language, bookedMail(language, facts), facts, { intro: 'booked.intro', closing: 'booked.bring' });
        // The inline image as the mail client shows it.
        const shownHtml = mail.attachments.reduce((h, a) => h.replace(`cid:${a.cid}`, `data:${a.contentType};base64,${a.content.toString('base64')}`), mail.html);
        await page.setContent(shownHtml);
        expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
        expect(await axeScan(page, `confirmation mail (${language})`, ['critical', 'serious', 'moderate'])).toEqual([]);
      }
    } finally {
      await browser.close();
    }
  }, 120_000);
});
