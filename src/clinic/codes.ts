/**
 * The injection sites and routes a vaccinator picks from: HL7 v3 ActSite (the codes CDC's HL7 table 0163 takes over
 * for RXR-2) and v3 RouteOfAdministration (mapped to NCIT for RXR-1 by src/sync/iis/vxu.ts).
 */
import type { Coding } from 'fhir/r4';

export interface CodeTable {
  system: string;
  codes: Record<string, string>;
}

export const SITES_TABLE: CodeTable = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ActSite',
  codes: {
    LA: 'left arm', RA: 'right arm', LD: 'left deltoid', RD: 'right deltoid', LT: 'left thigh', RT: 'right thigh',
    LVL: 'left vastus lateralis', RVL: 'right vastus lateralis', LG: 'left gluteus medius', RG: 'right gluteus medius',
    LLFA: 'left lower forearm', RLFA: 'right lower forearm', BN: 'bilateral nares',
  },
};

export const ROUTES_TABLE: CodeTable = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration',
  codes: { IM: 'Injection, intramuscular', SQ: 'Injection, subcutaneous', IDINJ: 'Injection, intradermal', NASINHLC: 'Inhalation, nasal', PO: 'Swallow, oral' },
};

export const SITES = SITES_TABLE.codes;
export const ROUTES = ROUTES_TABLE.codes;

export function codingOf(table: CodeTable, code: string): Coding {
  return { system: table.system, code, display: table.codes[code] };
}
