import { Hl7Message as MedplumMessage } from '@medplum/core';
import { allHl7Fixtures, hl7Fixture } from '../../../test/iis/fixtures.js';
import { hl7ToFhirDate, fhirToHl7Date, hl7Timestamp } from './hl7-datetime.js';
import { buildMessage, buildSegment, escapeHl7, Hl7ParseError, parseHl7, unescapeHl7 } from './hl7-message.js';

describe('parseHl7 reads every CDC/IZ Gateway example, quirks included', () => {
  it.each(allHl7Fixtures())('%s', (name) => {
    const text = hl7Fixture(name);
    const msg = parseHl7(text);
    expect(msg.segments[0]!.name).toBe('MSH');
    expect(msg.msh.get(12)).toBe('2.5.1');
    // Same number of segments as non-blank lines in the file, every segment name three characters
    const lines = text.split(/\r\n|\r|\n/).filter((l) => l.trim());
    expect(msg.segments).toHaveLength(lines.length);
    for (const s of msg.segments) expect(s.name).toMatch(/^[A-Z][A-Z0-9]{2}$/);
  });

  it('reads fields, components, subcomponents and repetitions (Z22 VXU)', () => {
    const msg = parseHl7(hl7Fixture('cdc-open-tools-vxu-z22-covid-adult.hl7'));
    expect(msg.type).toBe('VXU^V04');
    expect(msg.controlId).toBe('NIST-IZ-001.00');
    expect(msg.profile).toBe('Z22');
    const pid = msg.segment('PID')!;
    expect(pid.repetitions(3)).toHaveLength(2);
    expect(pid.get(3, 1, 1, 1)).toBe('987633');
    expect(pid.get(3, 5, 1, 1)).toBe('SR');
    expect(pid.get(10, 2, 1, 1)).toBe('Black or African American');
    const rxa = msg.segment('RXA')!;
    expect(rxa.get(5, 4)).toBe('00006-1101-99');
    expect(rxa.get(11, 4, 2)).toBe('2.16.840.1.113883.6.59'); // subcomponent of RXA-11.4
    expect(rxa.get(21)).toBe('A');
  });

  it('tolerates trailing blanks, a literal <CR>, \\r-only and \\n-only line ends', () => {
    const z42 = parseHl7(hl7Fixture('cdcig-rsp-z42-complete.hl7'));
    const rxas = z42.all('RXA');
    expect(rxas[0]!.get(21)).toBe('A'); // "A " in the file
    expect(rxas[2]!.get(20)).toBe('CP'); // "CP< CR> " in the file
    const smm = parseHl7(hl7Fixture('smm-tester-qbp-z44.hl7')); // CR only
    expect(smm.all('QPD')).toHaveLength(1);
    expect(smm.segment('RCP')!.get(2, 2, 1)).toBe('RD');
    const izgw = parseHl7(hl7Fixture('izgw-hub-qbp-z34-goodmessage.hl7')); // LF, no final line end
    expect(izgw.segment('QPD')!.get(8, 1, 3)).toBe('123'); // street address subcomponent
  });

  it('reads UTF-8 text and MLLP framing', () => {
    const ack = parseHl7(`\x0b${hl7Fixture('cdcig-ack-ar-unsupported-version.hl7')}\x1c\r`);
    expect(ack.segment('ERR')!.get(8)).toBe('Unsupported HL7 Version ID\u2014Message rejected');
  });

  it('rejects text that is not an HL7 v2 message with a clear error', () => {
    expect(() => parseHl7('')).toThrow(Hl7ParseError);
    expect(() => parseHl7('PID|1||x')).toThrow(/MSH/);
    expect(() => parseHl7('<xml/>')).toThrow(Hl7ParseError);
  });

  it('reads messages with non-default delimiters', () => {
    const msg = parseHl7('MSH#$*@%#A#B\rPID#1##12$3*45$$$X');
    expect(msg.segment('PID')!.get(3, 1)).toBe('12');
    expect(msg.segment('PID')!.get(3, 2, 1, 0)).toBe('3');
    expect(msg.segment('PID')!.get(3, 1, 1, 1)).toBe('45');
  });
});

describe('escaping (HL7 v2.5.1 2.7)', () => {
  it('escapes and unescapes every delimiter', () => {
    const raw = 'A|B^C&D~E\\F';
    const esc = escapeHl7(raw);
    expect(esc).toBe('A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\F');
    expect(unescapeHl7(esc)).toBe(raw);
  });
  it('decodes hex and line breaks, keeps unknown sequences as data', () => {
    expect(unescapeHl7('\\X41\\BC')).toBe('ABC');
    expect(unescapeHl7('a\\.br\\b')).toBe('a\nb');
    expect(unescapeHl7('C:\\dir\\x')).toBe('C:\\dir\\x');
  });
});

describe('buildMessage encodes what an independent parser reads back', () => {
  it('round-trips components, subcomponents, repetitions and escapes through @medplum/core', () => {
    const msg = buildMessage([
      buildSegment('MSH', ['APP', 'FAC', '', '', '20240101120000+0000', '', ['VXU', 'V04', 'VXU_V04'], 'id-1', 'P', '2.5.1']),
      buildSegment('PID', [
        '1',
        '',
        { repeat: [['123', '', '', 'MYEHR', 'MR'], ['9', '', '', ['IIS', '2.16.1', 'ISO'], 'SR']] },
        '',
        ['O|Brien^Jr', 'Pat&Co'],
      ]),
    ]);
    const text = msg.toString();
    expect(text).toContain('MSH|^~\\&|APP|FAC|||20240101120000+0000||VXU^V04^VXU_V04|id-1|P|2.5.1\r');
    const m = MedplumMessage.parse(text);
    const pid = m.getSegment('PID')!;
    expect(pid.getComponent(3, 1, undefined, 1)).toBe('9');
    expect(pid.getField(3).toString()).toContain('~');
    const mine = parseHl7(text).segment('PID')!;
    expect(mine.get(5, 1)).toBe('O|Brien^Jr');
    expect(mine.get(5, 2)).toBe('Pat&Co');
    expect(mine.get(3, 4, 2, 1)).toBe('2.16.1');
  });
  it('drops trailing empty fields and components', () => {
    const text = buildMessage([buildSegment('MSH', ['A']), buildSegment('OBX', ['1', ['X', '', ''], '', ''])]).toString();
    expect(text).toBe('MSH|^~\\&|A\rOBX|1|X');
  });
});

describe('HL7 dates', () => {
  it('converts DT/DTM to FHIR keeping precision', () => {
    expect(hl7ToFhirDate('20120113')).toBe('2012-01-13');
    expect(hl7ToFhirDate('201201130000-0500')).toBe('2012-01-13T00:00:00-05:00');
    expect(hl7ToFhirDate('200906')).toBe('2009-06');
    expect(hl7ToFhirDate('20091051132511')).toBe(''); // the IG example's impossible date (October 51st)
    expect(fhirToHl7Date('2021-03-04T10:00:00Z')).toBe('20210304');
    expect(hl7Timestamp(new Date('2024-05-06T07:08:09Z'), -300)).toBe('20240506020809-0500');
  });
});
