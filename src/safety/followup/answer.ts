/**
 * A check-in answered through its link: in one transaction the step is locked by its token, a second answer (a
 * double tap, a resent form) finds it answered and changes nothing; the answer is stored as the person's
 * QuestionnaireResponse (./questionnaire.ts), and a worrying one also as an AdverseEvent draft, written through the
 * AdverseEvent write hooks as the person's own report (tagged patient-reported, so staff review it in the console's
 * safety view before it reaches the dose record or the registry; a stay in hospital is serious and alerts operators).
 * The link is the only credential: it reaches this one check-in and the stop page, nothing else of the record.
 */
import { randomUUID } from 'node:crypto';
import type { AdverseEvent, Immunization, Patient, QuestionnaireResponse } from 'fhir/r4';
import type { Principal } from '../../auth/principal.js';
import { parseScopes } from '../../auth/scopes.js';
import { writeThroughHooks } from '../../clinic/write-hooks.js';
import type { FhirContext } from '../../fhir/types.js';
import { mailLanguage, preferredLanguage, type MailLanguage } from '../../notify/mail-locale.js';
import type { Queryable } from '../../store/db.js';
import type { AnyResource } from '../../store/repository-types.js';
import { buildAdverseEvent } from '../adverse-event.js';
import { buildQuestionnaireResponse, checkAnswer, EXT_AE_FOLLOWUP_ANSWER, FOLLOWUP_DRAFT_TAG, isWorrying, type FollowupAnswer } from './questionnaire.js';
import { tokenHash } from './sweep.js';
import type { FollowupKey } from './text.js';

/** How long after it was sent a check-in can still be answered. */
export const ANSWER_DAYS = 30;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface StepRow {
  immunization_id: string;
  step: number;
  patient_id: string;
  label: string;
  status: string;
  queued_at: Date | string | null;
  answered_at: Date | string | null;
  adverse_event_id: string | null;
}

/** The check-in a link's token opens (undefined for a malformed or unknown token). */
export async function stepByToken(db: Queryable, token: string, lock = false): Promise<StepRow | undefined> {
  if (!TOKEN_PATTERN.test(token)) return undefined;
  const r = await db.query<StepRow>(`SELECT * FROM followup_step WHERE token_hash = $1 ${lock ? 'FOR UPDATE' : ''}`, [tokenHash(token)]);
  return r.rows[0];
}

export function answerable(row: StepRow, now: Date): boolean {
  return row.queued_at !== null && now.getTime() - new Date(row.queued_at).getTime() <= ANSWER_DAYS * 86_400_000;
}

/** The person, acting through their link: their writes carry the patient-reported trust the hooks give a person's own. */
export function personPrincipal(patientId: string): Principal {
  const scope = 'patient/QuestionnaireResponse.c patient/AdverseEvent.c';
  return { kind: 'patient', patientId, fhirUser: `Patient/${patientId}`, clientId: 'followup-link', scopes: parseScopes(scope).grants, scope };
}

export interface AnswerDeps {
  db: FhirContext['db'];
  fhir: Pick<FhirContext, 'interceptors' | 'repo'>;
  clock?: () => Date;
}

export type AnswerOutcome =
  | { kind: 'saved'; questionnaireResponseId: string; adverseEventId?: string; patientId: string; worrying: boolean }
  | { kind: 'already' }
  | { kind: 'invalid'; errors: Partial<Record<string, FollowupKey>>; values: Record<string, unknown> }
  | { kind: 'expired' };

const OUTCOME: Record<FollowupAnswer['feeling'], string> = { well: 'resolved', mild: 'recovering', unwell: 'ongoing', 'very-unwell': 'ongoing' };

/** The AdverseEvent draft of a worrying answer (pure). */
export function draftAdverseEvent(o: { patientId: string; immunizationId: string; answer: FollowupAnswer; questionnaireResponseId: string; label: string; now: Date }): AdverseEvent {
  const a = o.answer;
  const ae = buildAdverseEvent({
    patientId: o.patientId,
    immunizationId: o.immunizationId,
    symptoms: a.symptoms.map((s) => s.code),
    ...(a.words ? { text: a.words } : a.symptoms.length ? {} : { text: `Follow-up check-in (${o.label} after the dose): needed care (${a.care}), feeling ${a.feeling}` }),
    // A stay in hospital is serious by definition; anything else staff judge when they review the draft.
    ...(a.care === 'hospital' ? { seriousness: 'SeriousResultsInHospitalization' } : {}),
    outcome: OUTCOME[a.feeling],
    onset: o.now.toISOString(),
    recordedAt: o.now.toISOString(),
    recorder: `Patient/${o.patientId}`,
    care: a.care,
  });
  // When it began is not asked: the answer tells when it was noticed (detected), not the onset.
  delete ae.date;
  return {
    ...ae,
    detected: o.now.toISOString(),
    meta: { tag: [FOLLOWUP_DRAFT_TAG] },
    extension: [...(ae.extension ?? []), { url: EXT_AE_FOLLOWUP_ANSWER, valueReference: { reference: `QuestionnaireResponse/${o.questionnaireResponseId}` } }],
  };
}

export async function submitAnswer(d: AnswerDeps, token: string, raw: Record<string, unknown>, lang: MailLanguage | undefined): Promise<AnswerOutcome> {
  const now = (d.clock ?? (() => new Date()))();
  return d.db.transaction(async (tx) => {
    const row = await stepByToken(tx, token, true);
    if (!row || !answerable(row, now)) return { kind: 'expired' } as const;
    if (row.answered_at !== null) return { kind: 'already' } as const;
    const { answer, errors } = checkAnswer(raw);
    if (!answer) return { kind: 'invalid', errors, values: raw } as const;
    const step = Number(row.step);
    const patient = await d.fhir.repo.readOptional<Patient & AnyResource>('Patient', row.patient_id, tx);
    const imm = await d.fhir.repo.readOptional<Immunization & AnyResource>('Immunization', row.immunization_id, tx);
    if (!patient || !imm) return { kind: 'expired' } as const;
    const who = personPrincipal(row.patient_id);
    const qr = buildQuestionnaireResponse({
      id: randomUUID(), patientId: row.patient_id, immunizationId: row.immunization_id, step, answer, authored: now, language: lang ?? mailLanguage(preferredLanguage(patient)),
    });
    const storedQr = await writeThroughHooks(d.fhir, tx, who, 'create', qr as QuestionnaireResponse & AnyResource);
    const worrying = isWorrying(answer);
    let aeId: string | undefined;
    if (worrying) {
      const ae = draftAdverseEvent({ patientId: row.patient_id, immunizationId: row.immunization_id, answer, questionnaireResponseId: storedQr.id!, label: row.label, now });
      aeId = (await writeThroughHooks(d.fhir, tx, who, 'create', ae as AdverseEvent & AnyResource)).id;
    }
    await tx.query(
      `UPDATE followup_step SET answered_at = $3, questionnaire_response_id = $4, adverse_event_id = $5 WHERE immunization_id = $1 AND step = $2`,
      [row.immunization_id, step, now.toISOString(), storedQr.id, aeId ?? null],
    );
    return { kind: 'saved', questionnaireResponseId: storedQr.id!, ...(aeId ? { adverseEventId: aeId } : {}), patientId: row.patient_id, worrying } as const;
  });
}
