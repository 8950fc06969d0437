/**
 * Pre-registration (POST /signup/register): identity basics, contact, date of birth, postal code and the
 * eligibility answers of the hub's rules. With `family`, the person already registered fills it in for a family
 * member (their status token goes in X-Registrant-Token, linking the two). Every problem the hub finds is listed
 * at once and marked on its field.
 */
import { call, HubError } from '../shared/api.js';
import { announce, field, h } from '../shared/dom.js';
import { language, t, tOr } from '../shared/i18n.js';
import { errorText, type AppContext } from './context.js';
import { load, save } from './state.js';

interface RegisterAnswer {
  registrantId: string;
  statusToken: string;
}

/** Which form field a hub issue expression points at. */
const FIELD_OF: Record<string, string> = {
  'name.family': 'reg-family', 'name.given': 'reg-given', birthDate: 'reg-birth', email: 'reg-email', phone: 'reg-phone',
  postalCode: 'reg-postal', 'answers.occupation': 'reg-occupation', 'answers.conditions': 'reg-conditions',
};

/**
 * A hub issue about the form in the person's words and language, by the field it names (the hub's own text, e.g.
 * "postalCode must be 2-10 letters or digits", is for API clients). Unknown issues keep the hub's text.
 */
export function fieldProblem(i: { message: string; expression?: string }): string {
  const path = (i.expression ?? '').replace(/\[\d+\]$/, '');
  if (path === 'email' && /required/i.test(i.message)) return t('regerr.email.required');
  if (path === 'birthDate' && /future/i.test(i.message)) return t('regerr.birthDate.future');
  return tOr(`regerr.${path}`, i.message);
}

function value(form: HTMLFormElement, name: string): string {
  return ((form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement | null)?.value ?? '').trim();
}

export function registerView(app: AppContext, family: boolean): Node[] {
  const me = load('registrant');
  const result = h('div', { id: 'register-result' });
  const occupation = h(
    'select',
    { id: 'reg-occupation', name: 'reg-occupation', required: true },
    h('option', { value: '' }, '—'),
    ...Object.entries(app.cfg.occupations).map(([code, display]) => h('option', { value: code }, tOr(`occ.${code}`, display))),
  );
  const conditions = h(
    'fieldset',
    { id: 'reg-conditions', class: 'checks', 'aria-describedby': 'reg-conditions-hint' },
    h('legend', {}, t('reg.conditions')),
    h('p', { id: 'reg-conditions-hint', class: 'hint' }, t('reg.conditionsHint')),
    ...Object.entries(app.cfg.conditions).map(([code, display]) =>
      h('div', { class: 'check' }, h('input', { type: 'checkbox', id: `cond-${code}`, name: 'condition', value: code }), h('label', { for: `cond-${code}` }, tOr(`cond.${code}`, display)))),
  );
  const form = h(
    'form',
    { id: 'register-form', novalidate: true },
    field('reg-given', t('reg.given'), { autocomplete: family ? 'off' : 'given-name', required: true }),
    field('reg-family', t('reg.family'), { autocomplete: family ? 'off' : 'family-name', required: true }),
    field('reg-birth', t('reg.birthDate'), { type: 'date', required: true, autocomplete: family ? 'off' : 'bday' }),
    field('reg-email', t('reg.email'), { type: 'email', autocomplete: family ? 'off' : 'email', required: true }, t('reg.contactHint')),
    field('reg-phone', t('reg.phone'), { type: 'tel', autocomplete: family ? 'off' : 'tel' }),
    field('reg-postal', t('reg.postalCode'), { autocomplete: 'postal-code', required: true, inputmode: 'text' }),
    h('div', { class: 'field' }, h('label', { for: 'reg-occupation' }, t('reg.occupation')), occupation),
    conditions,
    field('reg-site', t('reg.employerSite'), {}),
    h('button', { type: 'submit' }, family ? t('reg.submitFamily') : t('reg.submit')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void submit();
  });

  async function submit(): Promise<void> {
    for (const el of Array.from(form.querySelectorAll('[aria-invalid]'))) el.removeAttribute('aria-invalid');
    const chosen = Array.from(form.querySelectorAll<HTMLInputElement>('input[name=condition]:checked')).map((c) => c.value);
    const phone = value(form, 'reg-phone');
    // The form asks for email (invitations and codes go there): the hub would take a phone alone, so a form with a
    // phone and no email is stopped here (with neither, the hub's list says it among the other problems, in words).
    if (!value(form, 'reg-email') && phone) {
      document.getElementById('reg-email')?.setAttribute('aria-invalid', 'true');
      result.replaceChildren(h('div', { role: 'alert', class: 'error', tabindex: '-1', id: 'register-errors' }, h('p', {}, t('regerr.email.required'))));
      document.getElementById('register-errors')?.focus();
      return;
    }
    const body = {
      name: { family: value(form, 'reg-family'), given: value(form, 'reg-given').split(/\s+/).filter(Boolean) },
      birthDate: value(form, 'reg-birth'),
      email: value(form, 'reg-email') || undefined,
      phone: phone || undefined,
      postalCode: value(form, 'reg-postal'),
      answers: { occupation: value(form, 'reg-occupation') || undefined, conditions: chosen, employerSite: value(form, 'reg-site') || undefined },
      // The hub writes the person's mail in it (Patient.communication).
      language: language(),
    };
    try {
      const r = await call<RegisterAnswer>(`${app.hub}/signup/register`, { body, headers: { 'X-Registrant-Token': family ? me?.statusToken : undefined } });
      if (family) {
        form.reset();
        result.replaceChildren(announce(t('reg.familyDone', { name: `${body.name.given.join(' ')} ${body.name.family}` })));
        result.focus();
        return;
      }
      save('registrant', { registrantId: r.body.registrantId, statusToken: r.body.statusToken, postalCode: body.postalCode });
      app.go('#status');
    } catch (e) {
      const issues = e instanceof HubError ? e.issues.filter((i) => i.message) : [];
      for (const i of issues) document.getElementById(FIELD_OF[i.expression ?? ''] ?? '')?.setAttribute('aria-invalid', 'true');
      const message = e instanceof HubError && e.code === 'ALREADY_REGISTERED' ? t('reg.already') : issues.length > 1 ? t('reg.problems') : issues.length === 1 ? fieldProblem(issues[0]!) : errorText(e);
      result.replaceChildren(
        h('div', { role: 'alert', class: 'error', tabindex: '-1', id: 'register-errors' }, h('p', {}, message),
          issues.length > 1 ? h('ul', {}, ...issues.map((i) => h('li', {}, fieldProblem(i)))) : null),
      );
      document.getElementById('register-errors')?.focus();
    }
  }

  return [
    h('h2', {}, family ? t('reg.familyTitle') : t('reg.title')),
    family ? h('p', {}, t('reg.familyIntro')) : h('p', {}, t('signup.intro')),
    result,
    form,
  ];
}
