/**
 * Plugs forecasting into the hub: with CDSI_DATA_DIR, the CDSi engine behind `$immds-forecast` (both forms) and the
 * stored recommendation's write hooks; in every case /fhir/metadata says which rules forecast (an extension and
 * the implementation description), so a client knows whether it gets CDC's logic or the product catalogue's rule.
 */
import type { Hub } from '../app.js';
import type { ModuleRegistry } from '../wiring-types.js';
import type { FhirContext } from '../fhir/types.js';
import { decorateCapabilityStatement } from '../fhir/capability.js';
import { openForecaster, type Forecaster } from './forecaster.js';
import { immdsForecastOperations } from './operations/immds-forecast.js';
import { EXT_FORECAST_RULES } from './immds/response.js';
import { forecastWriteInterceptors } from './stored-recommendation.js';

const forecasters = new WeakMap<FhirContext, Forecaster>();

// Once per process: each hub's statement reads its own forecaster (tests start hubs with and without the engine).
decorateCapabilityStatement((cs, _req, ctx) => {
  const f = forecasters.get(ctx);
  if (!f) return;
  cs.extension = [...(cs.extension ?? []).filter((e) => e.url !== EXT_FORECAST_RULES), { url: EXT_FORECAST_RULES, valueString: f.engine ? `cdsi: ${f.rules}` : `product-catalogue: ${f.rules}` }];
  if (cs.implementation) {
    cs.implementation.description = `${cs.implementation.description}; immunization forecasts: ${f.engine ? `CDC CDSi engine (${f.rules}), $immds-forecast` : f.rules}`;
  }
});

/** The hub's forecaster (after wireForecast), for modules that answer with forecasts outside FHIR (HL7 v2 Z44). */
export function forecasterOfHub(hub: Pick<Hub, 'fhir'>): Forecaster | undefined {
  return forecasters.get(hub.fhir);
}

export async function wireForecast(hub: Hub, registry: ModuleRegistry): Promise<Forecaster> {
  const forecaster = await openForecaster(hub.config.cdsiDataDir);
  forecasters.set(hub.fhir, forecaster);
  if (!forecaster.engine) {
    hub.logger.info('CDSI_DATA_DIR is not set: forecasts use the product catalogue rule; $immds-forecast is not offered');
    return forecaster;
  }
  hub.logger.info({ rules: forecaster.rules }, 'CDSi engine loaded: $immds-forecast offered, stored recommendations follow CDSi');
  for (const op of immdsForecastOperations(forecaster, { timeZone: hub.config.timeZone })) registry.addOperation(op);
  for (const i of forecastWriteInterceptors(hub.repo, forecaster, { timeZone: hub.config.timeZone })) registry.addInterceptor(i);
  return forecaster;
}
