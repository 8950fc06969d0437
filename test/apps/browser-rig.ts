/**
 * The real-browser rig for the apps' end-to-end tests: Debian's Chromium driven by playwright-core, an SMTP
 * server that receives the hub's mail, screenshots at phone and desktop size into test-artifacts/, and an
 * axe-core accessibility scan per page.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startMailbox as startRawMailbox, type Mailbox } from '../helpers/mailbox.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = path.resolve('test-artifacts');

/**
 * `describe` when Chromium is installed (or under CI, where a missing browser must fail loudly), else
 * `describe.skip` with a warning, so `npm test` on a fresh machine without a browser still passes.
 */
export const describeInBrowser: jest.Describe = (() => {
  if (fs.existsSync(CHROMIUM_PATH) || process.env.CI) return describe;
  console.warn(`Browser tests skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium to run them).`);
  return describe.skip;
})();

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. The browser tests need Debian's chromium: apt-get install -y chromium ` +
        '(CI installs it in .ci/run; set CHROMIUM_PATH to use another binary).',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface ReceivedMail {
  to: string[];
  raw: string;
}

/** A real SMTP server on a loopback port (no TLS, no auth), collecting every message (recipients lower-cased). */
export function startMailbox(): Promise<Mailbox<ReceivedMail>> {
  return startRawMailbox((m) => ({ to: m.to.map((a) => a.toLowerCase()), raw: m.raw }));
}

export const VIEWPORTS = [
  { name: 'phone', width: 360, height: 740 },
  { name: 'desktop', width: 1280, height: 800 },
] as const;

/**
 * Screenshots the page at phone and desktop size (test-artifacts/<suite>/<name>-<size>.png), then restores the
 * size. Returns the sizes at which the page is wider than the screen (content that would scroll sideways).
 */
export async function screenshots(page: Page, suite: string, name: string): Promise<string[]> {
  const dir = path.join(ARTIFACTS, suite);
  fs.mkdirSync(dir, { recursive: true });
  const before = page.viewportSize();
  const overflowing: string[] = [];
  for (const vp of VIEWPORTS) {
    await page.setViewportSize({ width: vp.width, height: vp.height });
    await page.screenshot({ path: path.join(dir, `${name}-${vp.name}.png`), fullPage: true });
    const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
    if (width > vp.width) overflowing.push(`${name} is ${width} px wide at ${vp.width} px`);
  }
  if (before) await page.setViewportSize(before);
  return overflowing;
}

export interface AxeViolation {
  page: string;
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core (WCAG 2.x A/AA rules) on the page; returns its violations of the given impacts (serious and
 * critical by default; the public pages are held to moderate too).
 */
export async function axeScan(page: Page, name: string, impacts: string[] = ['serious', 'critical']): Promise<AxeViolation[]> {
  // Evaluated through DevTools rather than a <script> tag, so the apps' strict CSP stays on during the scan.
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) await page.evaluate(axeSource);
  const result = (await page.evaluate(
    "axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })",
  )) as { passes: unknown[]; violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }> };
  if (!result.passes.length) throw new Error(`axe checked nothing on ${name}`);
  return result.violations
    .filter((v) => v.impact !== null && impacts.includes(v.impact))
    .map((v) => ({ page: name, id: v.id, impact: v.impact!, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
}
