/**
 * The VAERS report as a printable page (A4/Letter, the form's item numbers and words), for staff to read over and
 * print or save as PDF from the browser. Every value is escaped; the page loads nothing.
 */
import type { VaersAddress, VaersReport, VaersVaccine } from './report.js';

const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const addr = (a: VaersAddress): string => [a.street, a.city, a.state, a.zip, a.county ? `(${a.county} county)` : ''].filter(Boolean).join(', ');

function row(item: string, label: string, value: string, essential = false): string {
  return `<tr${essential ? ' class="essential"' : ''}><th scope="row">${esc(item)}. ${esc(label)}${essential ? ' <span class="ess">(essential)</span>' : ''}</th><td>${value ? esc(value) : '<span class="empty">—</span>'}</td></tr>`;
}

function vaccines(list: Array<VaersVaccine & { date?: string }>, withDate: boolean): string {
  if (!list.length) return '<p class="empty">None</p>';
  const head = ['Vaccine (type and brand)', 'Manufacturer', 'Lot number', 'Route', 'Body site', 'Dose no. in series', ...(withDate ? ['Date given'] : [])];
  return `<table class="grid"><thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead><tbody>${list
    .map((v) => `<tr>${[v.vaccine, v.manufacturer, v.lotNumber, v.route, v.bodySite, v.doseNumber, ...(withDate ? [v.date] : [])].map((x) => `<td>${esc(x ?? '')}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function vaersPrintPage(r: VaersReport, submitted?: { vaersId: string | null; at: string; by: string }): string {
  const age = r.item6_ageAtVaccination ? `${r.item6_ageAtVaccination.years} years ${r.item6_ageAtVaccination.months} months` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>VAERS report: AdverseEvent/${esc(r.adverseEventId)}</title>
<style>
body { font: 11pt/1.35 system-ui, sans-serif; color: #000; margin: 1.5rem; }
h1 { font-size: 15pt; margin: 0 0 .25rem; } h2 { font-size: 12pt; margin: 1rem 0 .25rem; border-bottom: 2px solid #000; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; vertical-align: top; padding: .2rem .4rem; border-bottom: 1px solid #999; }
th[scope=row] { width: 38%; font-weight: 600; } .ess { font-weight: 400; font-size: 9pt; } .empty { color: #555; }
.grid th, .grid td { border: 1px solid #999; font-size: 10pt; } .status { border: 2px solid #000; padding: .4rem; margin: .5rem 0; }
@page { margin: 15mm; } @media print { body { margin: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
</style></head><body><main>
<h1>VAERS report (FORM FDA VAERS 2.0 items)</h1>
<p>Prepared by vaxhub from AdverseEvent/${esc(r.adverseEventId)} on ${esc(r.item7_todaysDate)}. Patient identity is kept confidential by VAERS.</p>
<p class="status">${submitted ? `Submitted to VAERS${submitted.vaersId ? ` as ${esc(submitted.vaersId)}` : ''} on ${esc(submitted.at)} by ${esc(submitted.by)}.` : r.missing.length ? `Not ready: essential items missing: ${esc(r.missing.join('; '))}.` : 'Ready to submit: every essential item is filled.'}</p>
<h2>Information about the patient who received the vaccine</h2><table><tbody>
${row('1', 'Patient name', `${r.item1_patient.firstName} ${r.item1_patient.lastName}`.trim())}
${row('1', 'Address', addr(r.item1_patient.address))}
${row('1', 'Phone / email', [r.item1_patient.phone, r.item1_patient.email].filter(Boolean).join(' / '))}
${row('2', 'Date of birth', r.item2_dateOfBirth, true)}
${row('3', 'Sex', r.item3_sex, true)}
${row('4', 'Date and time of vaccination', r.item4_vaccinationDateTime, true)}
${row('5', 'Date and time adverse event started', r.item5_adverseEventStart, true)}
${row('6', 'Age at vaccination', age, true)}
${row('7', "Today's date", r.item7_todaysDate)}
${row('8', 'Pregnant at time of vaccination', r.item8_pregnant)}
${row('9', 'Prescriptions, over-the-counter medications, supplements', r.item9_medications)}
${row('10', 'Allergies to medications, food, or other products', r.item10_allergies)}
${row('11', 'Other illnesses at the time of vaccination and up to one month prior', r.item11_otherIllnesses)}
${row('12', 'Chronic or long-standing health conditions', r.item12_chronicConditions)}
</tbody></table>
<h2>Information about the person completing this form</h2><table><tbody>
${row('13', 'Form completed by', `${r.item13_completedBy.name} (${r.item13_completedBy.relation})`)}
${row('13', 'Address', addr(r.item13_completedBy.address))}
${row('13', 'Phone / email', [r.item13_completedBy.phone, r.item13_completedBy.email].filter(Boolean).join(' / '))}
${row('14', 'Best doctor/healthcare professional to contact', [r.item14_bestContact.name, r.item14_bestContact.phone].filter(Boolean).join(', '))}
</tbody></table>
<h2>Information about the facility where vaccine was given</h2><table><tbody>
${row('15', 'Facility/clinic name', r.item15_facility.name)}
${row('15', 'Address', addr(r.item15_facility.address))}
${row('15', 'Phone / fax', [r.item15_facility.phone, r.item15_facility.fax].filter(Boolean).join(' / '))}
${row('16', 'Type of facility', r.item16_facilityType)}
</tbody></table>
<h2>Which vaccines were given on the date listed in no. 4? (item 17, essential)</h2>
${vaccines(r.item17_vaccines, false)}
<h2>What happened</h2><table><tbody>
${row('18', 'Adverse event(s), treatment and outcome(s)', r.item18_description, true)}
${row('19', 'Medical tests and laboratory results', r.item19_testsAndResults)}
${row('20', 'Has the patient recovered', r.item20_recovered)}
${row('21', 'Result or outcome of adverse event(s)', r.item21_outcomes.join('; '), true)}
</tbody></table>
<h2>Additional information</h2>
<p><strong>22. Any other vaccines received within one month prior to the date listed in no. 4</strong></p>
${vaccines(r.item22_otherVaccinesPriorMonth, true)}
<table><tbody>
${row('23', 'Adverse event following any previous vaccine', r.item23_previousAdverseEvents)}
${row('24', "Patient's race", r.item24_race)}
${row('25', "Patient's ethnicity", r.item25_ethnicity)}
</tbody></table>
</main></body></html>`;
}
