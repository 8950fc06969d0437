/**
 * Waves and draws: cohort windows (POST/GET /admin/windows); a draw is committed first (POST /admin/draws answers
 * the published sha256 of its secret seed), then run (POST /admin/draws/:id/run: tickets issued, invitations
 * queued), then its public audit view (GET /draws/:id) reveals the seed, the registrant snapshot and the
 * selection, with the hub's own recomputation. Draw ids made here are remembered in this browser.
 */
import { announce, field, h } from '../shared/dom.js';
import { t } from '../shared/i18n.js';
import { adminCall, hubUrl } from './api.js';
import { failed, load, localToIso, localValue, table, when } from './ui.js';

interface CohortWindow { id: string; name: string; opensAt: string; closesAt: string; criteria: { tiers?: string[] } & Record<string, unknown> }
interface DrawView {
  id: string; label: string; status: 'committed' | 'drawn'; invitations: number; tierOrder: string[]; windowId: string | null;
  seedHash: string; committedAt: string; drawnAt?: string;
  published?: { seed: string; snapshot: unknown[]; selected: string[] };
  verification?: { ok: boolean; problems: string[] };
}

const KNOWN = 'vaxhub.admin.draws';
function known(): string[] {
  try {
    return JSON.parse(localStorage.getItem(KNOWN) ?? '[]') as string[];
  } catch {
    return [];
  }
}
function remember(id: string): void {
  localStorage.setItem(KNOWN, JSON.stringify([id, ...known().filter((x) => x !== id)].slice(0, 50)));
}

function value(id: string): string {
  return (document.getElementById(id) as HTMLInputElement | HTMLSelectElement).value.trim();
}

export function drawsView(): Node[] {
  const windowsArea = h('div', { id: 'windows' });
  const drawsArea = h('div', { id: 'draws' });
  const drawResult = h('div', { id: 'draw-result' });
  const windowSelect = h('select', { id: 'draw-window' }, h('option', { value: '' }, t('draws.anyWindow')));

  const loadWindows = (): void => load(windowsArea, async () => {
    const ws = (await adminCall<CohortWindow[]>('/admin/windows')).body;
    windowSelect.replaceChildren(h('option', { value: '' }, t('draws.anyWindow')), ...ws.map((w) => h('option', { value: w.id }, w.name)));
    return [table('windows-table', t('draws.windows'), [{ label: t('draws.windowName') }, { label: t('draws.opensAt') }, { label: t('draws.closesAt') }, { label: t('draws.criteria') }],
      ws.map((w) => [w.name, when(w.opensAt), when(w.closesAt), h('span', { class: 'mono' }, JSON.stringify(w.criteria))]))];
  });

  const detail = (d: DrawView): HTMLElement => {
    const run = h('button', { type: 'button', class: 'run-draw', 'data-draw': d.id }, t('draws.run'));
    run.addEventListener('click', () => {
      run.disabled = true;
      adminCall<{ invited: number }>(`/admin/draws/${encodeURIComponent(d.id)}/run`, { method: 'POST', body: {} }).then(
        (r) => {
          drawResult.replaceChildren(announce(t('draws.ran', { n: r.body.invited })));
          loadDraws();
        },
        (e: unknown) => {
          run.disabled = false;
          drawResult.replaceChildren(failed(e));
        },
      );
    });
    return h('li', { 'data-draw': d.id, class: `draw draw-${d.status}` },
      h('h4', {}, d.label || d.id),
      h('dl', { class: 'facts' },
        h('dt', {}, t('draws.status')), h('dd', { class: 'draw-status' }, d.status),
        h('dt', {}, t('draws.invitations')), h('dd', {}, String(d.invitations)),
        h('dt', {}, t('draws.seedHash')), h('dd', { class: 'mono' }, d.seedHash),
        h('dt', {}, t('draws.opensAt')), h('dd', {}, when(d.committedAt)),
        ...(d.published ? [
          h('dt', {}, t('draws.seed')), h('dd', { class: 'mono draw-seed' }, d.published.seed),
          h('dt', {}, t('draws.snapshot')), h('dd', {}, String(d.published.snapshot.length)),
          h('dt', {}, t('draws.selected')), h('dd', { class: 'draw-selected' }, String(d.published.selected.length)),
        ] : [])),
      d.verification ? h('p', { class: d.verification.ok ? 'ok draw-verified' : 'error' }, d.verification.ok ? t('draws.verified') : t('draws.notVerified', { problems: d.verification.problems.join('; ') })) : null,
      h('p', {}, d.status === 'committed' ? run : null, h('a', { href: hubUrl(`/draws/${encodeURIComponent(d.id)}`) }, t('draws.audit'))));
  };

  const loadDraws = (): void => load(drawsArea, async () => {
    const views = await Promise.all(known().map((id) => adminCall<DrawView>(`/draws/${encodeURIComponent(id)}`).then((r) => r.body, () => undefined)));
    const present = views.filter((v): v is DrawView => !!v);
    return [h('h3', {}, t('draws.known')), present.length ? h('ul', { class: 'records', id: 'draw-list' }, ...present.map(detail)) : h('p', {}, t('admin.none'))];
  });

  const windowForm = h('form', { id: 'window-form' },
    field('win-name', t('draws.windowName'), { required: true }),
    field('win-opens', t('draws.opensAt'), { type: 'datetime-local', required: true, value: localValue(-60) }),
    field('win-closes', t('draws.closesAt'), { type: 'datetime-local', required: true, value: localValue(48 * 60) }),
    field('win-tiers', t('draws.tiers'), {}),
    h('button', { type: 'submit' }, t('draws.createWindow')));
  windowForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const tiers = value('win-tiers').split(',').map((x) => x.trim()).filter(Boolean);
    adminCall('/admin/windows', { body: { name: value('win-name'), opensAt: localToIso(value('win-opens')), closesAt: localToIso(value('win-closes')), criteria: tiers.length ? { tiers } : {} } })
      .then(() => loadWindows(), (e: unknown) => windowsArea.prepend(failed(e)));
  });

  const drawForm = h('form', { id: 'draw-form' },
    field('draw-label', t('draws.label'), { required: true }),
    field('draw-count', t('draws.invitations'), { type: 'number', min: '1', required: true, value: '10' }),
    h('div', { class: 'field' }, h('label', { for: 'draw-window' }, t('draws.window')), windowSelect),
    h('div', { class: 'check' }, h('input', { type: 'checkbox', id: 'draw-equity' }), h('label', { for: 'draw-equity' }, t('draws.equity'))),
    h('button', { type: 'submit' }, t('draws.commit')));
  drawForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = { label: value('draw-label'), invitations: Number(value('draw-count')), windowId: value('draw-window') || undefined, useEquityWeights: (document.getElementById('draw-equity') as HTMLInputElement).checked };
    adminCall<{ id: string; seedHash: string }>('/admin/draws', { body }).then(
      (r) => {
        remember(r.body.id);
        drawResult.replaceChildren(announce(t('draws.committed')), h('p', { class: 'mono', id: 'committed-hash' }, r.body.seedHash));
        loadDraws();
      },
      (e: unknown) => drawResult.replaceChildren(failed(e)),
    );
  });
  loadWindows();
  loadDraws();
  return [
    h('h2', {}, t('draws.windows')), windowsArea, windowForm,
    h('h2', {}, t('draws.title')), drawForm, drawResult, drawsArea,
  ];
}
