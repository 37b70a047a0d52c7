/**
 * A real headless Chromium for the report's tests: Debian's `chromium` package driven
 * with playwright-core (no browser download). Like the real-Xen tests, they skip with
 * the reason when Chromium is missing, unless XENMIG_REQUIRE_BROWSER=1 (CI installs it)
 * turns the skip into a failure.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = process.env.XENMIG_CHROMIUM ?? '/usr/bin/chromium';

export function browserGate(): { skip: string | false } {
  if (existsSync(CHROMIUM)) return { skip: false };
  const why = `${CHROMIUM} is missing`;
  if (process.env.XENMIG_REQUIRE_BROWSER === '1') throw new Error(`XENMIG_REQUIRE_BROWSER=1 but the browser tests cannot run: ${why}`);
  return { skip: `skipped: ${why}; to run them: apt-get install chromium (as .ci/run does)` };
}

export interface OpenedPage {
  /** Console errors and uncaught page errors, in order. */
  errors: string[];
  /** Requests the page made other than for itself (must be none: it is self-contained). */
  requests: string[];
  attr(selector: string, name: string): Promise<string | null>;
  count(selector: string): Promise<number>;
  text(selector: string): Promise<string>;
  screenshot(path: string): Promise<void>;
  pdf(path: string): Promise<void>;
  close(): Promise<void>;
}

/** Opens an HTML file from disk (file://) in headless Chromium and waits for its script to finish. */
export async function openPage(file: string): Promise<OpenedPage> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    const url = pathToFileURL(file).href;
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
    page.on('request', (r) => {
      if (r.url() !== url) requests.push(r.url());
    });
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForSelector('body[data-ready="1"]', { timeout: 10_000 }).catch(() => errors.push('the page script did not finish (body[data-ready] never set)'));
    return {
      errors,
      requests,
      attr: (s, n) => page.getAttribute(s, n),
      count: (s) => page.locator(s).count(),
      text: (s) => page.locator(s).innerText(),
      screenshot: async (path) => {
        await page.screenshot({ path, fullPage: true });
      },
      pdf: async (path) => {
        await page.pdf({ path, format: 'A4', printBackground: true });
      },
      close: () => browser.close(),
    };
  } catch (err) {
    await browser.close();
    throw err;
  }
}
