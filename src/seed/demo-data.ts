/**
 * A realistic demo jurisdiction: organizations, clinics with schedules per vaccine product, patients and
 * their past immunizations with real CVX/MVX codes and plausible lots. Deterministic for a given seed.
 */
import type { Immunization, Location, Organization, Patient, Practitioner, Schedule } from 'fhir/r4';

const CVX = 'http://hl7.org/fhir/sid/cvx';
const MVX = 'http://hl7.org/fhir/sid/mvx';
const NDC = 'http://hl7.org/fhir/sid/ndc';
export const VACCINE_PRODUCT_EXT = 'http://fhir-registry.smarthealthit.org/StructureDefinition/vaccine-product';

/** Products offered in the demo (CVX, manufacturer MVX, an NDC, display). */
export const DEMO_PRODUCTS = [
  { cvx: '300', mvx: 'PFR', ndc: '59267-4331-01', display: 'COVID-19, mRNA, LNP-S, bivalent, PF, 30 mcg/0.3 mL dose', lotPrefix: 'FK' },
  { cvx: '301', mvx: 'MOD', ndc: '80777-0282-05', display: 'COVID-19, mRNA, LNP-S, bivalent, PF, 50 mcg/0.5 mL dose', lotPrefix: 'MD' },
  { cvx: '197', mvx: 'SKB', ndc: '19515-0816-52', display: 'Influenza, high-dose, quadrivalent', lotPrefix: 'FL' },
  { cvx: '187', mvx: 'SKB', ndc: '58160-0823-11', display: 'Zoster recombinant', lotPrefix: 'SH' },
] as const;

/**
 * What the demo clinics offer to book: current products only (the sign-up page offers no discontinued product;
 * DEMO_PRODUCTS above are the 2021-era doses in the demo people's histories).
 */
export const DEMO_OFFERED = [
  { cvx: '309', mvx: 'PFR', display: 'COVID-19, mRNA, LNP-S, PF, tris-sucrose, 30 mcg/0.3 mL', lotPrefix: 'PF', covid: true },
  { cvx: '312', mvx: 'MOD', display: 'COVID-19, mRNA, LNP-S, PF, 50 mcg/0.5 mL', lotPrefix: 'MD', covid: true },
  { cvx: '197', mvx: 'PMC', ndc: '49281-0121-65', display: 'influenza, high-dose, quadrivalent', lotPrefix: 'FL', covid: false },
  { cvx: '187', mvx: 'SKB', ndc: '58160-0823-11', display: 'zoster vaccine recombinant', lotPrefix: 'SH', covid: false },
] as const;

const CITIES = [
  { city: 'Springfield', state: 'IL', postalCodes: ['62701', '62702', '62703', '62704'], lat: 39.78, lon: -89.65 },
  { city: 'Peoria', state: 'IL', postalCodes: ['61602', '61603', '61604'], lat: 40.69, lon: -89.59 },
  { city: 'Champaign', state: 'IL', postalCodes: ['61820', '61821', '61822'], lat: 40.11, lon: -88.24 },
  { city: 'Rockford', state: 'IL', postalCodes: ['61101', '61103', '61104'], lat: 42.27, lon: -89.09 },
];
const FAMILY = ['García', 'Smith', 'Nguyen', 'Kim', 'Johnson', 'Okafor', 'Patel', 'Müller', 'Rossi', 'Haddad', 'Brown', 'Lopez', 'Cohen', 'Ivanova', 'Tanaka', 'Silva'];
const GIVEN_F = ['Ana', 'Mary', 'Linh', 'Ji-woo', 'Aisha', 'Priya', 'Sofia', 'Fatima', 'Olga', 'Yuki', 'Grace', 'Elena'];
const GIVEN_M = ['John', 'Minh', 'Carlos', 'Chinedu', 'Raj', 'Luca', 'Omar', 'David', 'Ivan', 'Kenji', 'Pedro', 'Samuel'];

/** The demo sign-in accounts: fixed ids and emails, matching DEMO_ACCOUNTS in src/auth/login.ts. */
export const DEMO_PEOPLE = [
  { patientId: 'demo-patient-alex', email: 'alex.demo@vaxhub.example', family: 'Rivera', given: 'Alex' },
  { patientId: 'demo-patient-sam', email: 'sam.demo@vaxhub.example', family: 'Park', given: 'Sam' },
] as const;

/** mulberry32: tiny deterministic PRNG so a seed reproduces the same jurisdiction. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

export interface Jurisdiction {
  organizations: Organization[];
  practitioners: Practitioner[];
  locations: Location[];
  schedules: Schedule[];
}

export function generateJurisdiction(opts: { clinics: number; seed?: number }): Jurisdiction {
  const rnd = prng(opts.seed ?? 1);
  const org: Organization = {
    resourceType: 'Organization',
    id: 'demo-health-dept',
    identifier: [{ system: 'urn:vaxhub:facility', value: 'IL-DPH-001' }],
    active: true,
    name: 'Demo County Health Department',
    telecom: [{ system: 'phone', value: '+1-217-555-0100' }],
  };
  const practitioners: Practitioner[] = Array.from({ length: Math.max(2, opts.clinics) }, (_, i) => ({
    resourceType: 'Practitioner',
    id: `demo-nurse-${i + 1}`,
    identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: String(1234567800 + i) }],
    name: [{ family: pick(rnd, FAMILY), given: [pick(rnd, [...GIVEN_F, ...GIVEN_M])], prefix: ['RN'] }],
  }));
  const locations: Location[] = [];
  const schedules: Schedule[] = [];
  for (let i = 0; i < opts.clinics; i++) {
    const c = CITIES[i % CITIES.length]!;
    const postal = pick(rnd, c.postalCodes);
    const id = `demo-clinic-${i + 1}`;
    locations.push({
      resourceType: 'Location',
      id,
      identifier: [{ system: 'urn:vaxhub:clinic', value: `CLINIC-${String(i + 1).padStart(3, '0')}` }],
      status: 'active',
      name: `${c.city} Community Vaccination Site ${Math.floor(i / CITIES.length) + 1}`,
      telecom: [{ system: 'phone', value: `+1-217-555-${String(1000 + i).slice(-4)}` }, { system: 'url', value: `https://clinics.example.org/${id}` }],
      address: { line: [`${100 + Math.floor(rnd() * 900)} Main St`], city: c.city, state: c.state, postalCode: postal, country: 'US' },
      position: { latitude: c.lat + (rnd() - 0.5) / 10, longitude: c.lon + (rnd() - 0.5) / 10 },
      managingOrganization: { reference: `Organization/${org.id}` },
      // Mail and pages give appointment times in the clinic's zone (src/notify/mail-locale.ts).
      extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/timezone', valueCode: 'America/Chicago' }],
    });
    for (const p of DEMO_OFFERED.slice(0, i % 2 === 0 ? 2 : 3)) {
      const covid = p.covid;
      schedules.push({
        resourceType: 'Schedule',
        id: `${id}-cvx${p.cvx}`,
        active: true,
        serviceType: [
          {
            coding: [
              { system: 'http://terminology.hl7.org/CodeSystem/service-type', code: '57', display: 'Immunization' },
              ...(covid ? [{ system: 'http://fhir-registry.smarthealthit.org/CodeSystem/service-type', code: 'covid19-immunization', display: 'COVID-19 Immunization Appointment' }] : []),
            ],
          },
        ],
        actor: [{ reference: `Location/${id}`, display: locations[locations.length - 1]!.name }],
        extension: [{ url: VACCINE_PRODUCT_EXT, valueCoding: { system: CVX, code: p.cvx, display: p.display } }],
      });
    }
  }
  return { organizations: [org], practitioners, locations, schedules };
}

export function generatePatient(i: number, seed = 1): Patient {
  const rnd = prng(seed * 1_000_003 + i);
  const female = rnd() < 0.52;
  const c = pick(rnd, CITIES);
  const year = 1935 + Math.floor(rnd() * 70);
  const month = 1 + Math.floor(rnd() * 12);
  const day = 1 + Math.floor(rnd() * 28);
  const family = pick(rnd, FAMILY);
  const given = pick(rnd, female ? GIVEN_F : GIVEN_M);
  return {
    resourceType: 'Patient',
    identifier: [{ system: 'urn:vaxhub:mrn', value: `MRN${String(i + 1).padStart(8, '0')}` }],
    active: true,
    name: [{ use: 'official', family, given: [given] }],
    gender: female ? 'female' : 'male',
    birthDate: `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
    telecom: [{ system: 'email', value: `${given.toLowerCase().replace(/[^a-z]/g, '')}.${i + 1}@example.org` }],
    address: [{ city: c.city, state: c.state, postalCode: pick(rnd, c.postalCodes), country: 'US' }],
  };
}

export function generateImmunizations(patientId: string, i: number, locations: Location[], seed = 1): Immunization[] {
  const rnd = prng(seed * 7_000_003 + i);
  const count = i >= 900_000 ? 2 + (i % 2) : Math.floor(rnd() * 4);
  const out: Immunization[] = [];
  let date = Date.UTC(2021, 0, 4) + Math.floor(rnd() * 200) * 86_400_000;
  const product = pick(rnd, DEMO_PRODUCTS);
  for (let n = 0; n < count; n++) {
    const loc = pick(rnd, locations);
    out.push({
      resourceType: 'Immunization',
      identifier: [{ system: 'urn:vaxhub:dose', value: `${patientId}-${n + 1}` }],
      status: 'completed',
      vaccineCode: { coding: [{ system: CVX, code: product.cvx, display: product.display }, { system: NDC, code: product.ndc }] },
      patient: { reference: `Patient/${patientId}` },
      occurrenceDateTime: new Date(date).toISOString().slice(0, 10),
      primarySource: true,
      manufacturer: { identifier: { system: MVX, value: product.mvx } },
      lotNumber: `${product.lotPrefix}${String(1000 + Math.floor(rnd() * 9000))}`,
      expirationDate: new Date(date + 180 * 86_400_000).toISOString().slice(0, 10),
      location: { reference: `Location/${loc.id}`, display: loc.name },
      site: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActSite', code: 'LA', display: 'left arm' }] },
      route: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration', code: 'IM', display: 'Injection, intramuscular' }] },
      doseQuantity: { value: 0.3, unit: 'mL', system: 'http://unitsofmeasure.org', code: 'mL' },
      performer: [{ actor: { reference: 'Organization/demo-health-dept', display: 'Demo County Health Department' } }],
      protocolApplied: [{ doseNumberPositiveInt: n + 1, targetDisease: [{ coding: [{ system: 'http://snomed.info/sct', code: '840539006' }] }] }],
    });
    date += (21 + Math.floor(rnd() * 60)) * 86_400_000;
  }
  return out;
}
