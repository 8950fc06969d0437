/**
 * Putting a recorded dose right from the console (issue 21): correct its lot, site, route, vaccinator or VIS
 * edition (`Immunization/[id]/$correct`) or withdraw it as entered in error (`$entered-in-error`, optionally back
 * into stock), each with the reason staff give. The hub writes a Provenance naming the staff member, audits the
 * request and tells the registry (VXU update or delete).
 */
import { h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { adminCall } from './api.js';
import { dialogWith, fhirOp, selectField } from './dialogs.js';

interface CorrectionForm {
  immunization: { id: string; vaccine: string; date: string | null; lot: string | null; site: string | null; route: string | null; performerId: string | null; visPublished: string | null; correctable: boolean };
  lots: Array<{ inventoryId: string; lot: string; expiresOn: string | null; usable: number }>;
  practitioners: Array<{ id: string; name: string }>;
  sites: Array<{ code: string; display: string }>;
  routes: Array<{ code: string; display: string }>;
}

const reasonField = (id: string): HTMLElement =>
  h('div', { class: 'field' }, h('label', { for: id }, t('clinic.reason')), h('input', { id, name: 'reason', required: true, minlength: '3', maxlength: '500', autocomplete: 'off' }));

/** The correction dialog for Immunization `id` (`who`: the person, for the title); `done` gets the notice. */
export async function correctDoseDialog(id: string, who: string, done: (message: string) => void): Promise<void> {
  const f = (await adminCall<CorrectionForm>(`/admin/clinic/immunizations/${encodeURIComponent(id)}/correction-form`)).body;
  const imm = f.immunization;
  const keep = (current: string | null): { value: string; label: string } => ({ value: '', label: t('fix.keep', { current: current ?? '—' }) });
  const label = (list: Array<{ code: string; display: string }>, code: string | null): string | null => (code ? (list.find((x) => x.code === code)?.display ?? code) : null);
  dialogWith('fix-dialog', t('fix.title', { name: who, vaccine: imm.vaccine }), [
    h('p', { class: 'hint' }, t('fix.hint')),
    selectField('fix-lot', t('fix.lot'), [keep(imm.lot), ...f.lots.filter((l) => l.lot !== imm.lot).map((l) => ({ value: l.inventoryId, label: t('clinic.lotLine', { lot: l.lot, expires: l.expiresOn ?? '—', n: l.usable }) }))], '', false),
    selectField('fix-site', t('clinic.site'), [keep(label(f.sites, imm.site)), ...f.sites.filter((s) => s.code !== imm.site).map((s) => ({ value: s.code, label: s.display }))], '', false),
    selectField('fix-route', t('clinic.route'), [keep(label(f.routes, imm.route)), ...f.routes.filter((r) => r.code !== imm.route).map((r) => ({ value: r.code, label: r.display }))], '', false),
    selectField('fix-vaccinator', t('clinic.vaccinator'), [keep(f.practitioners.find((p) => p.id === imm.performerId)?.name ?? imm.performerId), ...f.practitioners.filter((p) => p.id !== imm.performerId).map((p) => ({ value: p.id, label: p.name }))], '', false),
    h('div', { class: 'field' }, h('label', { for: 'fix-vis' }, t('clinic.visEdition')), h('input', { id: 'fix-vis', name: 'fix-vis', type: 'date', value: imm.visPublished ?? '' })),
    reasonField('fix-reason'),
  ], t('fix.save'), async (form) => {
    const data = new FormData(form);
    const pick = (name: string): string => String(data.get(name) ?? '');
    const vis = pick('fix-vis');
    const parameter = [
      { name: 'reason', valueString: pick('reason') },
      ...(pick('fix-lot') ? [{ name: 'lot', valueString: pick('fix-lot') }] : []),
      ...(pick('fix-site') ? [{ name: 'site', valueString: pick('fix-site') }] : []),
      ...(pick('fix-route') ? [{ name: 'route', valueString: pick('fix-route') }] : []),
      ...(pick('fix-vaccinator') ? [{ name: 'performer', valueString: `Practitioner/${pick('fix-vaccinator')}` }] : []),
      ...(vis && vis !== imm.visPublished ? [{ name: 'vis-published', valueString: vis }] : []),
    ];
    if (parameter.length === 1) throw new Error(t('fix.nothing'));
    await fhirOp(`Immunization/${encodeURIComponent(id)}/$correct`, parameter);
    done(t('fix.corrected'));
  });
}

/** The entered-in-error dialog for Immunization `id`. */
export function withdrawDoseDialog(id: string, who: string, done: (message: string) => void): void {
  dialogWith('error-dialog', `${t('clinic.inError')}: ${who}`, [
    h('p', { class: 'hint' }, t('fix.withdrawHint')),
    reasonField('error-reason'),
    h('div', { class: 'check' }, h('input', { id: 'error-restock', name: 'restock', type: 'checkbox' }), h('label', { for: 'error-restock' }, t('clinic.restock'))),
  ], t('clinic.withdraw'), async (form) => {
    const data = new FormData(form);
    await fhirOp(`Immunization/${encodeURIComponent(id)}/$entered-in-error`, [
      { name: 'reason', valueString: String(data.get('reason')) }, { name: 'restock', valueBoolean: data.get('restock') === 'on' },
    ]);
    done(t('clinic.done'));
  });
}
