/**
 * EHR launch entry (`launch.html?iss=...&launch=...`): a portal or EHR opens the wallet with its launch
 * context; fhirclient reads `iss` and `launch` from the URL. Without them this is a standalone launch against
 * the wallet's own hub. Either way the hub redirects back to the wallet's index page.
 * @see https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch
 */
import FHIR from 'fhirclient';
import { loadAppConfig } from '../shared/config.js';
import { WALLET_SCOPE, redirectUri } from './session.js';

async function launch(): Promise<void> {
  const cfg = await loadAppConfig();
  const q = new URLSearchParams(location.search);
  await FHIR.oauth2.authorize({
    ...(q.has('iss') ? {} : { iss: cfg.fhirBaseUrl }),
    clientId: cfg.clientId ?? 'vaxhub-wallet',
    scope: q.has('launch') ? `launch ${WALLET_SCOPE}` : WALLET_SCOPE,
    redirectUri: redirectUri(),
    pkceMode: 'required',
  });
}

launch().catch((e: unknown) => {
  const status = document.getElementById('status');
  if (status) {
    status.setAttribute('role', 'alert');
    status.textContent = `Could not start: ${e instanceof Error ? e.message : String(e)}`;
  }
});
