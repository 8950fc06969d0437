/**
 * The closure mail (./closure.ts), rendered when sent from the appointments as they are then: the cancelled one,
 * and the place held for the person when it is still held for them (a hold that lapsed or was confirmed meanwhile
 * is not offered again). In the person's language, times in the clinic's zone (src/notify/public-mail.ts).
 */
import type { Appointment, Location, Patient } from 'fhir/r4';
import { clinicTimeZone, mailLanguage, preferredLanguage } from '../notify/mail-locale.js';
import { closureMail, closureText, type AppointmentFacts } from '../notify/public-mail.js';
import type { OutboxRenderer } from '../notify/worker.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import type { ProductCatalogue } from '../scheduling/products.js';
import { EXT_VACCINE_PRODUCT } from '../scheduling/slot-view.js';
import { CLOSURE_MAIL_KIND, type ClosurePayload } from './closure.js';
import { shownReference } from './day-list.js';

export interface ClinicMailDeps {
  repo: Repository;
  products: ProductCatalogue;
  timeZone: string;
  /** Where people confirm or choose another time (the sign-up app). */
  signupUrl: string;
  /** The link token of an offer (./rebooking.ts), for the page where the person answers it. */
  offerToken: (offerId: string) => Promise<string>;
}

export function clinicMailRenderers(deps: ClinicMailDeps): Record<string, OutboxRenderer> {
  const factsOf = async (appt: Appointment): Promise<AppointmentFacts> => {
    const locationId = appt.participant?.find((p) => p.actor?.reference?.startsWith('Location/'))?.actor?.reference?.slice('Location/'.length);
    const location = locationId ? await deps.repo.readOptional<Location & AnyResource>('Location', locationId) : undefined;
    const cvx = appt.extension?.find((e) => e.url === EXT_VACCINE_PRODUCT)?.valueCoding?.code;
    return {
      start: appt.start, timeZone: clinicTimeZone(location, deps.timeZone), location, reference: shownReference(appt, appt.id ?? ''),
      ...(cvx ? { productName: deps.products.get(cvx)?.name ?? `CVX ${cvx}` } : {}),
    };
  };
  return {
    async [CLOSURE_MAIL_KIND](row) {
      const p = row.payload as Partial<ClosurePayload>;
      if (!p.appointmentId || !p.email || !p.reason) throw Object.assign(new Error('clinic-closure row without appointment, address or reason'), { responseCode: 550 });
      const cancelled = await deps.repo.readOptional<Appointment & AnyResource>('Appointment', p.appointmentId);
      const patient = row.recipient_patient_id ? await deps.repo.readOptional<Patient & AnyResource>('Patient', row.recipient_patient_id) : undefined;
      const held = p.offerAppointmentId ? await deps.repo.readOptional<Appointment & AnyResource>('Appointment', p.offerAppointmentId) : undefined;
      const stillHeld = held && held.status === 'pending' && p.offerExpiresAt && Date.parse(p.offerExpiresAt) > Date.now();
      const facts = cancelled ? await factsOf(cancelled) : { timeZone: deps.timeZone, reference: p.appointmentId };
      const language = mailLanguage(preferredLanguage(patient));
      return {
        to: p.email,
        ...(p.channel === 'sms' ? closureText : closureMail)(language, {
          // The person's own page for the offer (keep it, choose another time, or decline) in their language, else the sign-up app.
          ...facts, reason: p.reason, link: p.offerAppointmentId ? `${deps.signupUrl}?lang=${language}#offer/${await deps.offerToken(p.offerAppointmentId)}` : deps.signupUrl,
          ...(stillHeld ? { offer: { ...(await factsOf(held)), expiresAt: new Date(p.offerExpiresAt!) } } : {}),
        }),
      };
    },
  };
}
