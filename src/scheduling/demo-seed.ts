/** Demo data for scheduling: stock per clinic and product, and free multi-place slots over the next three weeks. */
import type { AfterSeedHook } from '../seed/seed.js';
import { generateSlots } from './slot-store.js';
import { parseOpeningHours } from './slot-generation.js';
import { receiveLot } from './supply.js';
import { DEMO_OFFERED, VACCINE_PRODUCT_EXT } from '../seed/demo-data.js';

function day(offset: number): string {
  return new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
}

export const schedulingDemoSeed: AfterSeedHook = async (db, repo, j) => {
  for (const schedule of j.schedules) {
    const cvx = schedule.extension?.find((e) => e.url === VACCINE_PRODUCT_EXT)?.valueCoding?.code;
    const locationId = schedule.actor[0]!.reference!.split('/')[1]!;
    const product = DEMO_OFFERED.find((p) => p.cvx === cvx);
    if (!product) continue;
    const plan = {
      from: day(1),
      to: day(21),
      hours: parseOpeningHours('mon-sat 09:00-12:00,13:00-17:00'),
      slotMinutes: 30,
      capacity: 6,
      timeZone: 'America/Chicago',
    };
    const made = await generateSlots(db, repo, schedule.id!, plan);
    // Stock for most of what is offered, so supply limits are visible in the demo.
    await db.transaction((tx) =>
      receiveLot(tx, {
        locationId,
        productCvx: product.cvx,
        mvx: product.mvx,
        ndc: 'ndc' in product ? product.ndc : undefined,
        lot: `${product.lotPrefix}${locationId.slice(-2).replace(/\D/g, '')}${cvx}`,
        expiresOn: day(120),
        doses: Math.max(10, Math.floor(made.capacityOffered * 0.8)),
      }),
    );
  }
};
