/** Console dialogs and FHIR operation calls shared by the clinic day and the person's file. */
import { h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { adminCall } from './api.js';
import { failed } from './ui.js';

export type Parameters = { resourceType: 'Parameters'; parameter: Array<{ name: string; valueString?: string; valueBoolean?: boolean; valueReference?: { reference: string } }> };

/** POSTs a FHIR operation with a Parameters body, as the signed-in staff member. */
export function fhirOp(path: string, parameter: Parameters['parameter'] = []): Promise<unknown> {
  return adminCall(`/fhir/${path}`, { method: 'POST', fhir: true, body: { resourceType: 'Parameters', parameter } satisfies Parameters });
}

export function selectField(id: string, label: string, options: Array<{ value: string; label: string }>, selected?: string, required = true): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: id }, label),
    h('select', { id, name: id, required }, ...options.map((o) => h('option', { value: o.value, selected: o.value === selected }, o.label))));
}

/** A modal dialog with a form; resolves when the form's work is done or it is dismissed. */
export function dialogWith(id: string, title: string, body: Node[], submitLabel: string, work: (form: HTMLFormElement) => Promise<void>): void {
  const problem = h('div', { class: 'dialog-problem' });
  const form = h('form', { id: `${id}-form`, method: 'dialog' }, h('h3', { id: `${id}-title` }, title), ...body, problem,
    h('div', { class: 'actions' },
      h('button', { type: 'submit' }, submitLabel),
      h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, t('clinic.cancel'))));
  const dialog = h('dialog', { id, class: 'clinic-dialog', 'aria-labelledby': `${id}-title` }, form);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const submit = form.querySelector('button[type=submit]') as HTMLButtonElement;
    submit.disabled = true;
    work(form).then(() => dialog.close(), (e: unknown) => {
      submit.disabled = false;
      problem.replaceChildren(failed(e));
    });
  });
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}
