/** Where an app finds its hub: `config.json` served beside the app (FHIR base URL and the app's client id). */
export interface AppConfig {
  fhirBaseUrl: string;
  clientId?: string;
  /** The hub's time zone (IANA): times of a clinic whose Location names none, invitations and windows. */
  timeZone?: string;
}

export async function loadAppConfig(): Promise<AppConfig> {
  const res = await fetch('./config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  const cfg = (await res.json()) as AppConfig;
  if (typeof cfg.fhirBaseUrl !== 'string') throw new Error('config.json has no fhirBaseUrl');
  return cfg;
}
