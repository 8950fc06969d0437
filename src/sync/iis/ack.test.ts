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

  it('AR with no ERR and an empty MSA-2 (non-standard Q11 reject): rejected, permanent', () => {
    const r = parseAck(hl7Fixture('cdcig-ack-q11-ar-unsupported-type.hl7'));
    expect(r).toMatchObject({ ackCode: 'AR', status: 'rejected', retryable: false, acknowledgedControlId: '', errors: [] });
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
