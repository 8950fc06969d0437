import { hl7Fixture } from '../../../test/iis/fixtures.js';
import { AckParseError, describeErrors, parseAck } from './ack.js';

describe('parseAck on the CDC IG acknowledgment examples', () => {
  it('AA without ERR: accepted (Z23)', () => {
    const r = parseAck(hl7Fixture('cdcig-ack-z23-aa.hl7'));
    expect(r).toMatchObject({ ackCode: 'AA', status: 'accepted', retryable: false, acknowledgedControlId: '9299381', ackControlId: '1234567', errors: [] });
  });

  it('AA with a W ERR: accepted with warnings, location and reason kept', () => {
    const r = parseAck(hl7Fixture('cdcig-ack-aa-warning-err.hl7'));
    expect(r.status).toBe('accepted-with-warnings');
    expect(r.retryable).toBe(false);
    expect(r.errors).toEqual([{ location: 'PID', severity: 'W', message: 'PID-2 is not supported -- data ignored', hl7Code: undefined, hl7Text: undefined, applicationCode: undefined, applicationText: undefined }]);
  });

  it('AE business rule: rejected, permanent, both ERR with 0357 and 0533 codes', () => {
    const r = parseAck(hl7Fixture('cdcig-ack-ae-business-rule.hl7'));
    expect(r).toMatchObject({ ackCode: 'AE', status: 'rejected', retryable: false });
    expect(r.errors[0]).toMatchObject({ location: 'PID-7', hl7Code: '101', hl7Text: 'required field missing', severity: 'E', applicationCode: '1', applicationText: 'illogical date error', message: 'Birth data after today' });
    expect(r.errors[1]).toMatchObject({ location: 'PID', hl7Code: '100', message: 'PID is required segment. Message rejected' });
  });

  it('AE required field missing', () => {
    const r = parseAck(hl7Fixture('cdcig-ack-ae-err-required-field.hl7'));
    expect(r.status).toBe('rejected');
    expect(r.errors[0]).toMatchObject({ location: 'PID-5', hl7Code: '101', applicationCode: '7', message: 'Patient name is required' });
  });

  it('AE table value not found: three reasons, UTF-8 dash kept', () => {
    const r = parseAck(hl7Fixture('cdcig-ack-ae-err-table-value.hl7'));
    expect(r.errors.map((e) => e.hl7Code)).toEqual(['103', '101', '100']);
    expect(r.errors[0]!.message).toBe('Vaccine code not recognized\u2014field rejected');
    expect(r.errors[0]!.location).toBe('RXA-5');
    expect(describeErrors(r.errors)).toContain('E RXA-5 103 table value not found [5 table value not found]: Vaccine code not recognized');
  });

  it('AR unsupported version (203): rejected, never retried unchanged', () => {
    const r = parseAck(hl7Fixture('cdcig-ack-ar-unsupported-version.hl7'));
    expect(r).toMatchObject({ ackCode: 'AR', status: 'rejected', retryable: false });
    expect(r.errors[0]).toMatchObject({ location: 'MSH-12', hl7Code: '203', hl7Text: 'unsupported version id' });
  });

  it('bare AR (no ERR, empty MSA-2): not about content (HL7 v2.5.1 2.9.2, original mode), so retried', () => {
    const r = parseAck(hl7Fixture('cdcig-ack-q11-ar-unsupported-type.hl7'));
    expect(r).toMatchObject({ ackCode: 'AR', status: 'rejected', retryable: true, acknowledgedControlId: '', errors: [] });
    expect(r.reason).toMatch(/AR without a content error code/);
  });

  it('AE business rule and required field: the PID is rejected, so is the record', () => {
    for (const f of ['cdcig-ack-ae-business-rule.hl7', 'cdcig-ack-ae-err-required-field.hl7', 'cdcig-ack-ae-err-table-value.hl7']) {
      expect(parseAck(hl7Fixture(f))).toMatchObject({ status: 'rejected', retryable: false, dropped: [] });
    }
  });
});

describe('what a registry answer means for the dose (issue 18)', () => {
  const ack = (msa: string, ...err: string[]): string => ['MSH|^~\\&|IIS||VAXHUB||20240101||ACK^V04^ACK|a1|P|2.5.1', `MSA|${msa}|m1`, ...err].join('\r');

  it('AE with only W (a registry that stored it): accepted with warnings, warnings are the reason', () => {
    const r = parseAck(ack('AE', 'ERR||MSH^1^15|101^Required field missing^HL70357|W||||REQUIRED FIELD MSH-15 MISSING', 'ERR||PID^1^2||I||||PID-2 ignored'));
    expect(r).toMatchObject({ status: 'accepted-with-warnings', retryable: false, dropped: [] });
    expect(r.reason).toBe('101 REQUIRED FIELD MSH-15 MISSING (MSH-15)');
  });

  it('AA with W: accepted with warnings; AA with only I: accepted', () => {
    expect(parseAck(ack('AA', 'ERR||PID^1^2||W||||PID-2 ignored')).status).toBe('accepted-with-warnings');
    expect(parseAck(ack('AA', 'ERR||PID^1^2||I||||FYI')).status).toBe('accepted');
  });

  it('AE with E on a field it dropped: accepted with errors, the dropped field named in the registry words', () => {
    const r = parseAck(ack('AE', 'ERR||RXA^1^9|103^Table value not found^HL70357|E||||Invalid information source, field ignored', 'ERR||MSH^1^15||W||||MSH-15 missing'));
    expect(r.status).toBe('accepted-with-errors');
    expect(r.dropped).toEqual([expect.objectContaining({ location: 'RXA-9', hl7Code: '103' })]);
    expect(r.reason).toBe('103 Invalid information source, field ignored (RXA-9)');
  });

  it('AE whose E error says the record was rejected, or hits a key field: rejected', () => {
    expect(parseAck(ack('AE', 'ERR||OBX^1^5|103^x^HL70357|E||||Message rejected: unknown funding')).status).toBe('rejected');
    expect(parseAck(ack('AE', 'ERR||RXA^1^5|103^Table value not found^HL70357|E')).status).toBe('rejected');
    expect(parseAck(ack('AE', 'ERR||PID^1^7|102^Data type error^HL70357|E')).status).toBe('rejected');
  });

  it('reasons are the registry words: ERR-3.2 when ERR-3.1 is empty, ERR-5.2 when there is no ERR-3 at all, ERR-8 first', () => {
    expect(parseAck(ack('AE', 'ERR||RXA^1^5|^Vaccine code 999 is not valid|E')).reason).toBe('Vaccine code 999 is not valid (RXA-5)');
    expect(parseAck(ack('AE', 'ERR||RXA^1^5||E|IZ-12^Vaccine code not recognized^HL70533')).reason).toBe('IZ-12 Vaccine code not recognized (RXA-5)');
    expect(parseAck(ack('AE', 'ERR||RXA^1^5|103^Table value not found^HL70357|E||||CVX 999 unknown')).reason).toBe('103 CVX 999 unknown (RXA-5)');
    expect(parseAck(ack('AE', 'ERR||RXA^1^5|^Vaccine code 999 is not valid|E')).reason).not.toMatch(/E RXA :/);
  });

  it('207 in the 2.5.1 layout: transient, retried', () => {
    const r = parseAck(ack('AE', 'ERR||MSH|207^Application internal error^HL70357|E||||Database timeout'));
    expect(r).toMatchObject({ status: 'rejected', retryable: true });
    expect(r.reason).toBe('207 Database timeout (MSH)');
  });

  it('207 in the 2.3.1 ERR-1 layout with ERR-1.1 empty: transient, retried, its text kept', () => {
    for (const err of ['ERR|^^^207&Application internal error&HL70357', 'ERR|^^^207', 'ERR|MSH^1^0^207&Application internal error']) {
      const r = parseAck(ack('AE', err));
      expect(r).toMatchObject({ status: 'rejected', retryable: true });
      expect(r.errors[0]).toMatchObject({ hl7Code: '207' });
    }
    const withMsa = parseAck('MSH|^~\\&|IIS||VAXHUB||20240101||ACK^V04|a1|P|2.3.1\rMSA|AE|m1|System temporarily unavailable\rERR|^^^207');
    expect(withMsa.reason).toBe('207 System temporarily unavailable');
  });

  it('AR with a content error code (203): rejected for good; AR with 207: retried; AR with only words: retried', () => {
    expect(parseAck(ack('AR', 'ERR||MSH^1^12|203^Unsupported version id^HL70357|E'))).toMatchObject({ status: 'rejected', retryable: false });
    expect(parseAck(ack('AR', 'ERR||MSH|207^Application internal error^HL70357|E'))).toMatchObject({ status: 'rejected', retryable: true });
    expect(parseAck(ack('AR', 'ERR|||||||||Try again later'))).toMatchObject({ status: 'rejected', retryable: true });
  });
});

describe('retry classification', () => {
  const ack = (msa: string, err: string): string => `MSH|^~\\&|IIS||VAXHUB||20240101||ACK^V04^ACK|a1|P|2.5.1\rMSA|${msa}|m1\r${err}`;
  it.each(['206', '207'])('ERR-3 %s is transient (AE and AR)', (code) => {
    expect(parseAck(ack('AE', `ERR|||${code}^x^HL70357|E`))).toMatchObject({ status: 'rejected', retryable: true });
    expect(parseAck(ack('AR', `ERR|||${code}^x^HL70357|E`))).toMatchObject({ status: 'rejected', retryable: true });
  });
  it.each(['200', '201', '202', '203', '101', '103'])('ERR-3 %s is permanent', (code) => {
    expect(parseAck(ack('AR', `ERR|||${code}^x^HL70357|E`)).retryable).toBe(false);
  });
  it('enhanced-mode CA/CE/CR codes read as AA/AE/AR', () => {
    expect(parseAck(ack('CA', '')).status).toBe('accepted');
    expect(parseAck(ack('CR', '')).status).toBe('rejected');
  });
  it('MSA-3 text is the reason when a registry sends no ERR', () => {
    const r = parseAck('MSH|^~\\&|IIS||X||2024||ACK|a|P|2.5.1\rMSA|AE|m1|Lot number expired');
    expect(r.errors).toEqual([{ location: '', severity: 'E', message: 'Lot number expired' }]);
  });
  it('v2.3.1 ERR-1 layout is read too', () => {
    const r = parseAck('MSH|^~\\&|IIS||X||2024||ACK|a|P|2.3.1\rMSA|AE|m1\rERR|RXA^1^5^103&Table value not found&HL70357');
    expect(r.errors[0]).toMatchObject({ location: 'RXA-5', hl7Code: '103', hl7Text: 'Table value not found' });
  });
  it('an answer without MSA or with a bad MSA-1 is an AckParseError, not a crash', () => {
    expect(() => parseAck('MSH|^~\\&|IIS||X||2024||ACK|a|P|2.5.1')).toThrow(AckParseError);
    expect(() => parseAck('MSH|^~\\&|IIS||X||2024||ACK|a|P|2.5.1\rMSA|OK|1')).toThrow(/MSA-1/);
    expect(() => parseAck('<html>502 Bad Gateway</html>')).toThrow();
  });
});
