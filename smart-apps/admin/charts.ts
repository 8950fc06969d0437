/**
 * Small SVG charts (no library): grouped horizontal bars and time-series lines. Each chart is an image with a
 * text alternative that states the latest values, and the numbers are also shown as text beside it.
 */
const NS = 'http://www.w3.org/2000/svg';
/** Series colours with at least 3:1 contrast on white (WCAG 1.4.11). */
export const COLOURS = ['#0b4f8a', '#9b0000', '#8a4b00', '#0a5d1f', '#5b2a86'];

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, ...children: Array<SVGElement | string>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

export interface BarGroup {
  label: string;
  values: number[];
}

function frame(width: number, height: number, label: string, id: string): SVGSVGElement {
  return svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label, class: 'chart', id }, svg('title', {}, label));
}

/** Horizontal bars, one group per row (e.g. a location) and one bar per series (on hand, reserved...). */
export function barChart(id: string, label: string, series: string[], groups: BarGroup[]): SVGSVGElement {
  const width = 640;
  const barH = 12;
  const rowH = series.length * barH + 14;
  const left = 200;
  const height = Math.max(40, groups.length * rowH + 10);
  const max = Math.max(1, ...groups.flatMap((g) => g.values));
  const chart = frame(width, height, label, id);
  groups.forEach((g, row) => {
    const y0 = 5 + row * rowH;
    chart.append(svg('text', { x: 0, y: y0 + rowH / 2, 'dominant-baseline': 'middle' }, g.label.length > 28 ? `${g.label.slice(0, 27)}…` : g.label));
    g.values.forEach((v, i) => {
      const w = Math.round(((width - left - 60) * v) / max);
      chart.append(svg('rect', { x: left, y: y0 + i * barH, width: Math.max(1, w), height: barH - 2, fill: COLOURS[i % COLOURS.length]! }, svg('title', {}, `${g.label} — ${series[i]}: ${v}`)));
      chart.append(svg('text', { x: left + w + 4, y: y0 + i * barH + barH / 2, 'dominant-baseline': 'middle' }, String(v)));
    });
  });
  chart.append(svg('line', { x1: left, y1: 0, x2: left, y2: height, class: 'axis' }));
  return chart;
}

export interface Series {
  name: string;
  points: Array<{ t: number; v: number }>;
}

/** Clock times for the x axis, in the page's language (hours, minutes and seconds: samples are seconds apart). */
function clockTime(ms: number): string {
  return new Intl.DateTimeFormat(document.documentElement.lang || 'en', { hour: 'numeric', minute: '2-digit', second: '2-digit' }).format(new Date(ms));
}

/**
 * Lines over time; the x axis spans the samples kept and is labelled with clock times (start, middle, end, with
 * ticks), the y axis starts at zero.
 */
export function lineChart(id: string, label: string, series: Series[], timeLabel = 'Time'): SVGSVGElement {
  const width = 640;
  const height = 216;
  const pad = { l: 44, r: 40, t: 10, b: 38 };
  const all = series.flatMap((s) => s.points);
  const t0 = Math.min(...all.map((p) => p.t), Date.now());
  const t1 = Math.max(...all.map((p) => p.t), t0 + 1000);
  const max = Math.max(1, ...all.map((p) => p.v));
  const x = (t: number): number => pad.l + ((width - pad.l - pad.r) * (t - t0)) / (t1 - t0);
  const y = (v: number): number => height - pad.b - ((height - pad.t - pad.b) * v) / max;
  const latest = series.map((s) => `${s.name} ${s.points.at(-1)?.v ?? 0}`).join(', ');
  const chart = frame(width, height, `${label}: ${latest}`, id);
  chart.append(
    svg('line', { x1: pad.l, y1: height - pad.b, x2: width - pad.r, y2: height - pad.b, class: 'axis' }),
    svg('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: height - pad.b, class: 'axis' }),
    svg('text', { x: pad.l - 4, y: pad.t + 8, 'text-anchor': 'end' }, String(Math.round(max))),
    svg('text', { x: pad.l - 4, y: height - pad.b, 'text-anchor': 'end' }, '0'),
  );
  const axis = svg('g', { class: 'time-axis', 'aria-hidden': 'true' });
  for (const f of [0, 0.5, 1]) {
    const tt = t0 + (t1 - t0) * f;
    const xx = x(tt);
    axis.append(
      svg('line', { x1: xx, y1: height - pad.b, x2: xx, y2: height - pad.b + 4, class: 'axis' }),
      svg('text', { x: xx, y: height - pad.b + 16, 'text-anchor': 'middle', 'data-t': Math.round(tt) }, clockTime(tt)),
    );
  }
  axis.append(svg('text', { x: pad.l + (width - pad.l - pad.r) / 2, y: height - 2, 'text-anchor': 'middle', class: 'axis-title' }, timeLabel));
  chart.append(axis);
  series.forEach((s, i) => {
    if (!s.points.length) return;
    const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    chart.append(svg('path', { d, fill: 'none', stroke: COLOURS[i % COLOURS.length]!, 'stroke-width': 2.5, 'stroke-dasharray': i % 2 ? '6 3' : 'none', 'data-series': s.name, 'data-last': s.points.at(-1)!.v }));
  });
  return chart;
}

/** A legend as a list (colour swatch + name). */
export function legend(names: string[]): HTMLUListElement {
  const ul = document.createElement('ul');
  ul.className = 'legend';
  names.forEach((n, i) => {
    const li = document.createElement('li');
    li.style.setProperty('--swatch', COLOURS[i % COLOURS.length]!);
    li.textContent = n;
    ul.append(li);
  });
  return ul;
}

export interface RateBar {
  label: string;
  /** The whole name, as the bar's tooltip (the label may be shortened). */
  title?: string;
  /** null: nothing to draw (a suppressed count); `note` says why, in place of the bar. */
  value: number | null;
  note?: string;
}

/**
 * Horizontal bars of rates, one per row of a table (labels on the y axis, the rate on an x axis with ticks from
 * zero and a title). Suppressed rows keep their place with a note instead of a bar, so the chart shows no more than
 * the table. The text alternative (`desc`) names the highest and lowest rates shown and how many are suppressed.
 */
export function rateChart(id: string, label: string, axisTitle: string, bars: RateBar[], summary: string): SVGSVGElement {
  const width = 760;
  const rowH = 20;
  const pad = { l: 310, r: 70, t: 8, b: 44 };
  const height = pad.t + pad.b + Math.max(1, bars.length) * rowH;
  const max = Math.max(1e-9, ...bars.map((b) => b.value ?? 0));
  const step = niceStep(max);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const x = (v: number): number => pad.l + ((width - pad.l - pad.r) * v) / top;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'chart', id, 'aria-labelledby': `${id}-title ${id}-desc` },
    svg('title', { id: `${id}-title` }, label), svg('desc', { id: `${id}-desc` }, summary));
  const base = height - pad.b;
  bars.forEach((b, i) => {
    const y = pad.t + i * rowH;
    chart.append(svg('text', { x: pad.l - 6, y: y + rowH / 2, 'text-anchor': 'end', 'dominant-baseline': 'middle' }, b.label.length > 48 ? `${b.label.slice(0, 47)}…` : b.label));
    if (b.value === null) {
      chart.append(svg('text', { x: pad.l + 4, y: y + rowH / 2, 'dominant-baseline': 'middle', class: 'chart-note' }, b.note ?? ''));
      return;
    }
    const w = Math.max(1, x(b.value) - pad.l);
    chart.append(svg('rect', { x: pad.l, y: y + 3, width: w, height: rowH - 6, fill: COLOURS[0]!, 'data-value': b.value }, svg('title', {}, `${b.title ?? b.label}: ${b.value}`)));
    chart.append(svg('text', { x: pad.l + w + 4, y: y + rowH / 2, 'dominant-baseline': 'middle' }, String(b.value)));
  });
  const axis = svg('g', { class: 'rate-axis', 'aria-hidden': 'true' },
    svg('line', { x1: pad.l, y1: base, x2: width - pad.r, y2: base, class: 'axis' }),
    svg('line', { x1: pad.l, y1: pad.t, x2: pad.l, y2: base, class: 'axis' }));
  for (let v = 0; v <= top + step / 2; v += step) {
    const xx = x(v);
    axis.append(svg('line', { x1: xx, y1: base, x2: xx, y2: base + 4, class: 'axis' }), svg('text', { x: xx, y: base + 16, 'text-anchor': 'middle' }, String(Math.round(v * 100) / 100)));
  }
  axis.append(svg('text', { x: pad.l + (width - pad.l - pad.r) / 2, y: height - 4, 'text-anchor': 'middle', class: 'axis-title' }, axisTitle));
  chart.append(axis);
  return chart;
}

/** A round tick step (1, 2 or 5 times a power of ten) giving about five ticks up to `max`. */
function niceStep(max: number): number {
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}
