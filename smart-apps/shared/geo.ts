/** The hub's "near me" ordering and distance units, shared with the server's eligibility assistant. */
export * from '../../src/scheduling/geo.js';
