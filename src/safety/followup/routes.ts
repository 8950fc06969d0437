/**
 * Follow-up check-ins over HTTP.
 * The person, with the link from their message (the token is the only credential, and reaches only this check-in):
 *   GET  /followup/:token              the form, in their language (?lang=en|es|ko to switch)
 *   POST /followup/:token              the answer (form-encoded); a second one finds it answered and changes nothing
 *   GET  /followup/:token/stop         stop this dose's check-ins, or all of them
 *   POST /followup/:token/stop         scope=dose|all
 * The person's choice, with their app's token (the wallet), or on the sign-up app's booking confirmation with the
 * claimed invitation (X-Claim-Token, which names the person's Patient); an operator too:
 *   GET  /followups/Patient/:id/preference     {optedIn, chosenVia, chosenAt, steps}
 *   PUT  /followups/Patient/:id/preference     {optIn: boolean, via?: 'wallet' | 'signup'}
 * Staff (operators; every change audited by requireAdmin):
 *   GET  /admin/followups[?patient=ID]          the schedule's state (one person's, or the latest across the hub)
 *   PUT  /admin/followups/Patient/:id/preference  {optIn}
 *   POST /admin/followups/Patient/:id/stop        {immunizationId?}
 */
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type { Immunization, Location, Patient } from 'fhir/r4';
import type { AuditInput } from '../../auth/audit.js';
import type { Principal } from '../../auth/principal.js';
import { badRequest, fhirError, notFound } from '../../fhir/outcomes.js';
import { ID_PATTERN } from '../../fhir/resource-types.js';
import type { FhirContext } from '../../fhir/types.js';
import { clinicTimeZone, mailLanguage, MAIL_LANGUAGES, preferredLanguage, type MailLanguage } from '../../notify/mail-locale.js';
import type { Db } from '../../store/db.js';
import type { AnyResource, Repository } from '../../store/repository-types.js';
import { vaccineNameIn, type VaccineNameTables } from '../../scheduling/vaccine-names.js';
import { answerable, personPrincipal, stepByToken, submitAnswer } from './answer.js';
import { alreadyPage, expiredPage, formPage, stopPage, stoppedPage, thanksPage } from './page.js';
import { listSteps, readPreference, setPreference, stopSteps, type PreferenceVia } from './schedule.js';

export interface FollowupRouteDeps {
  db: Db;
  repo: Repository;
  fhir: FhirContext;
  timeZone: string;
  names?: VaccineNameTables;
  authenticate(req: Request): Promise<Principal>;
  /** The Patient a claimed invitation's token (X-Claim-Token) names; throws the coded refusal when it is not valid. */
  claimedPatient?(token: string): Promise<string>;
  requireAdmin: RequestHandler;
  audit(event: AuditInput): void;
  clock?: () => Date;
}

const CVX = 'http://hl7.org/fhir/sid/cvx';
const LOCALE: Record<MailLanguage, string> = { en: 'en-US', es: 'es-US', ko: 'ko-KR' };
const whoActed = (p: Principal): string => p.fhirUser ?? 'operator-token';

function asLanguage(v: unknown): MailLanguage | undefined {
  return typeof v === 'string' && (MAIL_LANGUAGES as readonly string[]).includes(v) ? (v as MailLanguage) : undefined;
}

function html(res: Response, status: number, body: string): void {
  res.status(status).set({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' }).send(body);
}

export function createFollowupRouter(d: FollowupRouteDeps): Router {
  const clock = d.clock ?? (() => new Date());
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 100 });
  const json = express.json({ limit: '4kb' });

  /** The language of a page: asked for, else the person's, else English. */
  const pageLanguage = async (req: Request, patientId?: string): Promise<{ lang: MailLanguage; patient?: Patient }> => {
    const asked = asLanguage(req.query.lang) ?? asLanguage((req.body as Record<string, unknown> | undefined)?.lang);
    const patient = patientId ? await d.repo.readOptional<Patient & AnyResource>('Patient', patientId) : undefined;
    return { lang: asked ?? mailLanguage(preferredLanguage(patient)), ...(patient ? { patient } : {}) };
  };

  const doseFacts = async (immunizationId: string, lang: MailLanguage): Promise<{ vaccine: string; date: string }> => {
    const imm = await d.repo.readOptional<Immunization & AnyResource>('Immunization', immunizationId);
    const cvx = imm?.vaccineCode?.coding?.find((c) => c.system === CVX)?.code;
    const vaccine = (cvx && d.names ? vaccineNameIn(d.names, cvx, lang) : undefined) ?? imm?.vaccineCode?.text ?? (cvx ? `CVX ${cvx}` : '');
    const locationId = imm?.location?.reference?.replace(/^Location\//, '');
    const location = locationId && ID_PATTERN.test(locationId) ? await d.repo.readOptional<Location & AnyResource>('Location', locationId) : undefined;
    const date = imm?.occurrenceDateTime ? new Intl.DateTimeFormat(LOCALE[lang], { dateStyle: 'long', timeZone: clinicTimeZone(location, d.timeZone) }).format(new Date(imm.occurrenceDateTime)) : '';
    return { vaccine, date };
  };

  router.get('/followup/:token', (req, res, next) => {
    void (async () => {
      const token = String(req.params.token);
      const row = await stepByToken(d.db, token);
      const { lang } = await pageLanguage(req, row?.patient_id);
      if (!row || !answerable(row, clock())) return html(res, 404, expiredPage(lang));
      if (row.answered_at !== null) return html(res, 200, alreadyPage(lang, token));
      html(res, 200, formPage(lang, { token, ...(await doseFacts(row.immunization_id, lang)) }));
    })().catch(next);
  });

  router.post('/followup/:token', form, (req, res, next) => {
    void (async () => {
      const token = String(req.params.token);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const asked = asLanguage(body.lang);
      const out = await submitAnswer({ db: d.db, fhir: d.fhir, clock }, token, body, asked);
      const row = out.kind === 'expired' ? undefined : await stepByToken(d.db, token);
      const { lang } = await pageLanguage(req, row?.patient_id);
      switch (out.kind) {
        case 'expired':
          return html(res, 404, expiredPage(lang));
        case 'already':
          return html(res, 200, alreadyPage(lang, token));
        case 'invalid':
          return html(res, 422, formPage(lang, { token, ...(await doseFacts(row!.immunization_id, lang)), errors: out.errors, values: out.values }));
        case 'saved':
          d.audit({
            action: 'create', outcome: 'success', who: { user: `Patient/${out.patientId}`, clientId: 'followup-link' },
            what: `QuestionnaireResponse/${out.questionnaireResponseId}`, patientId: out.patientId,
            entities: [
              { type: 'QuestionnaireResponse', ids: [out.questionnaireResponseId], patients: [out.patientId] },
              ...(out.adverseEventId ? [{ type: 'AdverseEvent', ids: [out.adverseEventId], patients: [out.patientId] }] : []),
            ],
            detail: out.worrying ? 'follow-up answer; worrying: AdverseEvent draft for staff' : 'follow-up answer',
          });
          return html(res, 201, thanksPage(lang, token, out.worrying));
      }
    })().catch(next);
  });

  router.get('/followup/:token/stop', (req, res, next) => {
    void (async () => {
      const row = await stepByToken(d.db, String(req.params.token));
      const { lang } = await pageLanguage(req, row?.patient_id);
      html(res, row ? 200 : 404, row ? stopPage(lang) : expiredPage(lang));
    })().catch(next);
  });

  router.post('/followup/:token/stop', form, (req, res, next) => {
    void (async () => {
      const row = await stepByToken(d.db, String(req.params.token));
      const { lang } = await pageLanguage(req, row?.patient_id);
      if (!row) return html(res, 404, expiredPage(lang));
      const scope = (req.body as Record<string, unknown> | undefined)?.scope === 'all' ? 'all' : 'dose';
      const by = `Patient/${row.patient_id}`;
      const now = clock();
      const stopped = await d.db.transaction(async (tx) =>
        scope === 'all'
          ? (await setPreference(tx, row.patient_id, false, by, 'stop-link', now)).stopped
          : stopSteps(tx, { patientId: row.patient_id, immunizationId: row.immunization_id }, by, now));
      d.audit({
        action: 'update', outcome: 'success', who: { user: by, clientId: 'followup-link' }, what: `Patient/${row.patient_id}`, patientId: row.patient_id,
        entities: [{ type: 'Immunization', ids: [row.immunization_id], patients: [row.patient_id] }],
        detail: `follow-up check-ins stopped (${scope === 'all' ? 'all' : 'this dose'}; ${stopped} to come)`,
      });
      html(res, 200, stoppedPage(lang, scope));
    })().catch(next);
  });

  // --- the person's choice, with their app's token ---
  const mayChoose = async (req: Request, patientId: string): Promise<Principal> => {
    const p = await d.authenticate(req);
    const claim = req.get('x-claim-token');
    if (p.kind === 'anonymous' && claim && d.claimedPatient) {
      const claimed = await d.claimedPatient(claim);
      // Another person's id with this claim: answered as if they did not exist.
      if (claimed !== patientId) throw notFound(`Patient/${patientId}`);
      return { ...personPrincipal(patientId), clientId: 'signup-claim' };
    }
    if (p.kind === 'anonymous') throw fhirError('UNAUTHORIZED', 'A SMART access token (or, on the booking confirmation, X-Claim-Token) is required', undefined, { 'WWW-Authenticate': 'Bearer' });
    if (!ID_PATTERN.test(patientId)) throw notFound('That Patient');
    if (p.kind === 'admin') return p;
    const own = p.patientId === patientId || p.fhirUser === `Patient/${patientId}`;
    // Anyone but the person (or their app acting for them) is answered as if the person did not exist.
    if (!own || !(p.kind === 'patient' || p.kind === 'user')) throw notFound(`Patient/${patientId}`);
    if (!p.scopes.some((s) => (s.resourceType === 'Patient' || s.resourceType === '*') && s.permissions.r)) {
      throw fhirError('FORBIDDEN', 'Follow-up choices need read access to the person\'s Patient record (e.g. patient/Patient.r)');
    }
    return p;
  };

  const answerPreference = async (res: Response, patientId: string): Promise<void> => {
    const pref = await readPreference(d.db, patientId);
    res.set('Cache-Control', 'no-store').json({
      patientId, optedIn: pref?.optedIn ?? false, chosenVia: pref?.chosenVia ?? null, chosenAt: pref?.chosenAt ?? null, steps: await listSteps(d.db, patientId),
    });
  };

  const checkPatient = async (patientId: string): Promise<void> => {
    const patient = await d.repo.readOptional<Patient & AnyResource>('Patient', patientId);
    if (!patient) throw notFound(`Patient/${patientId}`);
  };

  router.get('/followups/Patient/:id/preference', (req, res, next) => {
    void (async () => {
      const id = String(req.params.id);
      res.locals.principal = await mayChoose(req, id);
      await checkPatient(id);
      await answerPreference(res, id);
    })().catch(next);
  });

  const readChoice = (body: unknown): boolean => {
    const optIn = (body as { optIn?: unknown } | undefined)?.optIn;
    if (typeof optIn !== 'boolean') throw badRequest('optIn must be true or false', 'optIn');
    return optIn;
  };

  router.put('/followups/Patient/:id/preference', json, (req, res, next) => {
    void (async () => {
      const id = String(req.params.id);
      const p = await mayChoose(req, id);
      res.locals.principal = p;
      const optIn = readChoice(req.body);
      const via = (req.body as { via?: unknown }).via ?? 'wallet';
      if (via !== 'wallet' && via !== 'signup') throw badRequest("via must be 'wallet' or 'signup'", 'via');
      await checkPatient(id);
      // A claimed invitation is the sign-up app's booking confirmation, whatever the body says.
      const where = p.clientId === 'signup-claim' ? 'signup' : via;
      await d.db.transaction((tx) => setPreference(tx, id, optIn, p.kind === 'admin' ? whoActed(p) : `Patient/${id}`, where as PreferenceVia, clock()));
      d.audit({
        action: 'update', outcome: 'success', who: { user: p.fhirUser ?? (p.kind === 'admin' ? 'operator-token' : `Patient/${id}`), ...(p.clientId ? { clientId: p.clientId } : {}) },
        what: `Patient/${id}`, patientId: id, detail: `follow-up check-ins ${optIn ? 'chosen' : 'declined'} (${String(where)})`,
      });
      await answerPreference(res, id);
    })().catch(next);
  });

  // --- staff ---
  router.get('/admin/followups', d.requireAdmin, (req, res, next) => {
    void (async () => {
      const patient = typeof req.query.patient === 'string' ? req.query.patient.replace(/^Patient\//, '') : undefined;
      if (patient !== undefined) {
        if (!ID_PATTERN.test(patient)) throw badRequest('patient must be a Patient id', 'patient');
        return answerPreference(res, patient);
      }
      const counts = await d.db.query<{ status: string; answered: boolean; n: number }>(
        `SELECT status, answered_at IS NOT NULL AS answered, count(*)::int AS n FROM followup_step GROUP BY 1, 2 ORDER BY 1, 2`,
      );
      const latest = await d.db.query<Record<string, unknown>>(
        `SELECT s.immunization_id AS "immunizationId", s.step, s.patient_id AS "patientId", s.label, s.due_at AS "dueAt", s.status, s.channel,
                s.answered_at AS "answeredAt", s.adverse_event_id AS "adverseEventId", o.status AS delivery
           FROM followup_step s LEFT JOIN notification_outbox o ON o.dedupe_key = s.outbox_key
          ORDER BY s.due_at DESC LIMIT 200`,
      );
      res.set('Cache-Control', 'no-store').json({ counts: counts.rows.map((r) => ({ ...r, n: Number(r.n) })), steps: latest.rows });
    })().catch(next);
  });

  router.put('/admin/followups/Patient/:id/preference', d.requireAdmin, json, (req, res, next) => {
    void (async () => {
      const id = String(req.params.id);
      if (!ID_PATTERN.test(id)) throw notFound('That Patient');
      const optIn = readChoice(req.body);
      await checkPatient(id);
      await d.db.transaction((tx) => setPreference(tx, id, optIn, whoActed(res.locals.principal as Principal), 'staff', clock()));
      await answerPreference(res, id);
    })().catch(next);
  });

  router.post('/admin/followups/Patient/:id/stop', d.requireAdmin, json, (req, res, next) => {
    void (async () => {
      const id = String(req.params.id);
      if (!ID_PATTERN.test(id)) throw notFound('That Patient');
      const imm = (req.body as { immunizationId?: unknown } | undefined)?.immunizationId;
      if (imm !== undefined && (typeof imm !== 'string' || !ID_PATTERN.test(imm.replace(/^Immunization\//, '')))) throw badRequest('immunizationId must be an Immunization id', 'immunizationId');
      await checkPatient(id);
      const stopped = await d.db.transaction((tx) => stopSteps(tx, { patientId: id, ...(imm ? { immunizationId: (imm as string).replace(/^Immunization\//, '') } : {}) }, whoActed(res.locals.principal as Principal), clock()));
      res.set('Cache-Control', 'no-store').json({ stopped });
    })().catch(next);
  });

  return router;
}
