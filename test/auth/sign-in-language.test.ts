/**
 * The sign-in and consent pages speak the person's language (issue 22, item 4): the app's OpenID Connect
 * `ui_locales`, the pages' own language links (kept for the pages after a form post), the apps' `vaxhub_lang`
 * cookie, the signed-in person's saved language, then Accept-Language; every sentence exists in every language.
 */
import { createHash, randomBytes } from 'node:crypto';
import request from 'supertest';
import type { Express } from 'express';
import type { Patient } from 'fhir/r4';
import { registerClient } from '../../src/auth/clients.js';
import { deliveriesSettled } from '../../src/auth/login.js';
import { describeGrant } from '../../src/auth/pages.js';
import { fromAcceptLanguage, missingPageText, pageLanguage } from '../../src/auth/page-text.js';
import { parseScopes } from '../../src/auth/scopes.js';
import type { Db } from '../../src/store/db.js';
import { FhirRepository } from '../../src/store/repository.js';
import { authApp, authDatabases, BASE_URL, FHIR_BASE, MapPatientDirectory, uid, type CapturingOtpSender } from './setup.js';

const REDIRECT = 'https://app.example/callback';

describe('sign-in page words', () => {
  it('has every sentence in every language', () => {
    expect(missingPageText()).toEqual([]);
  });
  it('picks the language in the documented order', () => {
    expect(fromAcceptLanguage('en-US;q=0.4, es-MX;q=0.9, fr')).toBe('es');
    expect(fromAcceptLanguage('fr, de')).toBeUndefined();
    expect(pageLanguage({ acceptLanguage: 'ko-KR' })).toBe('ko');
    expect(pageLanguage({ saved: 'es', acceptLanguage: 'ko-KR' })).toBe('es');
    expect(pageLanguage({ cookie: 'ko', saved: 'es' })).toBe('ko');
    expect(pageLanguage({ stored: 'en', cookie: 'ko' })).toBe('en');
    expect(pageLanguage({ query: 'es', stored: 'en' })).toBe('es');
    expect(pageLanguage({})).toBe('en');
  });
  it('says what a permission allows in each language, the verb where the language puts it', () => {
    const g = parseScopes('patient/Immunization.cru').grants[0]!;
    expect(describeGrant(g, 'en')).toBe('See, add to and change your vaccinations');
    expect(describeGrant(g, 'es')).toBe('Ver, añadir a y cambiar sus vacunas');
    expect(describeGrant(g, 'ko')).toBe('내 예방접종 기록 보기, 추가 및 변경');
  });
});

describe.each(authDatabases)('sign-in pages in the person\'s language on $name', ({ open }) => {
  let db: Db;
  let app: Express;
  let otp: CapturingOtpSender;
  let clientId: string;
  let spanishPatient: string;

  beforeAll(async () => {
    db = await open();
    const repo = new FhirRepository(db);
    const p = await repo.create({ resourceType: 'Patient', name: [{ family: 'Reyes', given: ['Ana'] }], communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'es' }] }, preferred: true }] } as Patient & { [k: string]: unknown });
    spanishPatient = p.id!;
    ({ app, otp } = authApp(db, { patientDirectory: new MapPatientDirectory({ 'pat.a@example.org': 'pat-a', 'ana@example.org': spanishPatient }) }));
    clientId = uid('wallet');
    await registerClient(db, { id: clientId, name: 'Vax Wallet', type: 'public', redirectUris: [REDIRECT], allowedOrigins: ['https://app.example'], scope: 'patient/Immunization.rs patient/Patient.rs openid fhirUser launch/patient' });
  });
  afterAll(() => db.close());

  const start = async (agent: ReturnType<typeof request.agent>, extra: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<string> => {
    const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
    let req = agent.get('/auth/authorize').query({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'launch/patient openid fhirUser patient/Immunization.rs', state: 's', aud: FHIR_BASE, code_challenge: challenge, code_challenge_method: 'S256', ...extra });
    for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
    const res = await req;
    expect(res.status).toBe(303);
    return new URL(res.headers.location!, `${BASE_URL}/auth/`).searchParams.get('request')!;
  };

  it('follows ui_locales through every page, a wrong code included', async () => {
    const agent = request.agent(app);
    const id = await start(agent, { ui_locales: 'es-MX en' });
    const login = await agent.get('/auth/login').query({ request: id }).set('accept-language', 'ko');
    expect(login.text).toContain('<html lang="es">');
    expect(login.text).toContain('<h1>Iniciar sesión</h1>');
    expect(login.text).toContain('<strong>Vax Wallet</strong> quiere acceder a su historial de vacunación');
    // Links to the other languages, not to the one shown.
    expect(login.text).toContain(`href="login?request=${id}&amp;lang=ko" lang="ko" hreflang="ko">한국어</a>`);
    expect(login.text).not.toContain('lang=es"');
    const bad = await agent.post('/auth/login').type('form').send({ request: id, email: 'ana@' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('Escriba un correo electrónico válido.');
    const sent = await agent.post('/auth/login').type('form').send({ request: id, email: 'pat.a@example.org' });
    await deliveriesSettled();
    expect(sent.text).toContain('<h1>Escriba su código</h1>');
    const wrong = await agent.post('/auth/login/verify').type('form').send({ request: id, code: otp.last() === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBe(400);
    expect(wrong.text).toContain('Ese código no es correcto. Inténtelo de nuevo.');
    expect(wrong.text).toContain('action="verify"');
    expect((await agent.post('/auth/login/verify').type('form').send({ request: id, code: otp.last() })).status).toBe(303);
    const consent = await agent.get('/auth/consent').query({ request: id });
    expect(consent.text).toContain('<h1>¿Permitir el acceso?</h1>');
    expect(consent.text).toContain('<li>Ver sus vacunas</li>');
    expect(consent.text).toContain('<button type="submit" name="decision" value="approve">Permitir</button>');
  });

  it('switches language by the pages\' links and keeps the choice for the pages after a form post', async () => {
    const agent = request.agent(app);
    const id = await start(agent);
    const ko = await agent.get('/auth/login').query({ request: id, lang: 'ko' });
    expect(ko.text).toContain('<html lang="ko">');
    expect(ko.text).toContain('<h1>로그인</h1>');
    const sent = await agent.post('/auth/login').type('form').send({ request: id, email: 'pat.a@example.org' });
    await deliveriesSettled();
    expect(sent.text).toContain('<h1>코드 입력</h1>');
  });

  it('uses the apps\' language cookie, then the saved language of the person who signed in, then Accept-Language', async () => {
    // The sign-up and wallet apps leave `vaxhub_lang` beside the request's own cookie: the browser sends both.
    const challenge = createHash('sha256').update('v'.repeat(43)).digest('base64url');
    const auth = await request(app).get('/auth/authorize').query({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'launch/patient openid fhirUser patient/Immunization.rs', state: 's', aud: FHIR_BASE, code_challenge: challenge, code_challenge_method: 'S256' });
    const c = new URL(auth.headers.location!, `${BASE_URL}/auth/`).searchParams.get('request')!;
    const secret = String(auth.headers['set-cookie']).split(';')[0]!;
    const viaCookie = await request(app).get('/auth/login').query({ request: c }).set('cookie', `vaxhub_lang=ko; ${secret}`).set('accept-language', 'es');
    expect(viaCookie.status).toBe(200);
    expect(viaCookie.text).toContain('<h1>로그인</h1>');
    const agent = request.agent(app);
    const id = await start(agent, {}, { 'accept-language': 'en-US' });
    expect((await agent.get('/auth/login').query({ request: id }).set('accept-language', 'ko-KR,ko;q=0.9')).text).toContain('<h1>로그인</h1>');
    // Ana's record says Spanish: after she signs in, the consent page speaks it even though the browser says English.
    await agent.post('/auth/login').type('form').send({ request: id, email: 'ana@example.org' }).set('accept-language', 'en-US');
    await deliveriesSettled();
    expect((await agent.post('/auth/login/verify').type('form').send({ request: id, code: otp.last() })).status).toBe(303);
    const consent = await agent.get('/auth/consent').query({ request: id }).set('accept-language', 'en-US');
    expect(consent.text).toContain('<html lang="es">');
    expect(consent.text).toContain('<li>Ver sus vacunas</li>');
  });

  it('explains an expired request in the browser\'s language', async () => {
    const res = await request(app).get('/auth/login').query({ request: '00000000-0000-0000-0000-000000000000' }).set('accept-language', 'es');
    expect(res.status).toBe(400);
    expect(res.text).toContain('Esta solicitud de inicio de sesión caducó o pertenece a otro navegador.');
  });
});
