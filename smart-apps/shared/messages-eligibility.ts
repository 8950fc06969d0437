/**
 * Names of the eligibility answers and tiers of the default rules (profiles/priority-tiers.json) in the one
 * catalogue. A jurisdiction that adds its own codes still gets its rules' English display as a fallback.
 * The names live in profiles/eligibility-names.json so that the hub's mails (src/, compiled to dist/) read the same
 * file the apps bundle: a module under smart-apps/ exists only as TypeScript and cannot be imported by dist/.
 */
import names from '../../profiles/eligibility-names.json' with { type: 'json' };
import type { Entry } from './i18n.js';

export const ELIGIBILITY_MESSAGES = names satisfies Record<string, Entry>;
