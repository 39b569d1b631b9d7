// What the browser drivers (chat.mjs, socketio_chat.mjs) share: headless Chromium
// (Debian's /usr/bin/chromium, driven by the npm `playwright-core`, which
// downloads no browser), pages that record their errors, screenshots, and the
// report, printed as exactly one JSON line whatever happens.
//
// Setup (once):  npm ci --prefix tests/e2e
//
// Every driver takes the same options:
//   node tests/e2e/DRIVER.mjs --url http://127.0.0.1:PORT/ --screenshots DIR
//       [--chromium /usr/bin/chromium] [--timeout 30000]
//
// Every report has these fields, besides the driver's own:
//   {"ok": bool, "error": str|null, "step": str, "browserVersion": str|null,
//    "pages": {NAME: PAGE}, "screenshots": [str]}
//   PAGE = what the driver's `show(page)` returns, plus "errors": [str] (console
//          errors and warnings, page errors, failed requests, HTTP errors).
// Exit status: 0 if ok, 1 otherwise.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function options() {
  const { values } = parseArgs({
    options: {
      url: { type: "string" },
      screenshots: { type: "string" },
      chromium: { type: "string", default: "/usr/bin/chromium" },
      timeout: { type: "string", default: "30000" },
    },
  });
  if (!values.url || !values.screenshots) throw new Error("--url and --screenshots are required");
  const timeout = Number(values.timeout);
  if (!(timeout > 0)) throw new Error(`bad --timeout: ${values.timeout}`);
  return { ...values, timeout };
}

/** Milliseconds that one step may take: a third of the driver's deadline. */
function stepTimeout(opts) {
  return Math.max(1000, Math.floor(opts.timeout / 3));
}

/** The browser as a scenario sees it: named pages of one Chromium. */
class Browser {
  constructor(context, opts, report, show) {
    this.context = context;
    this.opts = opts;
    this.report = report;
    this.show = show;
    /** Milliseconds that one step may take. */
    this.wait = stepTimeout(opts);
    this.pages = {};
    this.errors = {};
  }

  /** Name the step under way (a failure's report says where it happened). */
  step(name) {
    this.report.step = name;
  }

  /** New pages, one per name, each loading --url (the first one reuses the blank page). */
  async open(names) {
    for (const name of names) {
      const blank = this.context.pages().find((page) => !Object.values(this.pages).includes(page));
      const page = blank ?? (await this.context.newPage());
      const errors = (this.errors[name] = []);
      page.on("console", (msg) => {
        if (msg.type() === "error" || msg.type() === "warning") errors.push(`console ${msg.type()}: ${msg.text()}`);
      });
      page.on("pageerror", (err) => errors.push(`page error: ${err.message}`));
      page.on("requestfailed", (req) => errors.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
      page.on("response", (res) => {
        if (res.status() >= 400) errors.push(`HTTP ${res.status()}: ${res.url()}`);
      });
      this.pages[name] = page;
    }
    const opened = names.map((name) => this.pages[name]);
    await Promise.all(opened.map((page) => page.goto(this.opts.url, { timeout: this.wait })));
    return opened;
  }

  /** Page `name`, brought to the front to be used: Playwright's clicks wait for
   *  animation frames, which a page in the background does not get. */
  async use(name) {
    const page = this.pages[name];
    await page.bringToFront();
    return page;
  }

  /** What page `name` shows now, and its errors so far. */
  async snapshot(name) {
    const shown = await this.show(this.pages[name]);
    return { ...shown, errors: [...this.errors[name]] };
  }

  /** Put page `name`'s snapshot in the report, and its screenshot in DIR/NAME.png. */
  async capture(name) {
    this.report.pages[name] = await this.snapshot(name);
    const file = join(this.opts.screenshots, `${name}.png`);
    await this.pages[name].screenshot({ path: file, timeout: this.wait });
    this.report.screenshots.push(file);
  }

  /** On failure, what the open pages showed (those that still answer within a second). */
  async salvage() {
    for (const [name, page] of Object.entries(this.pages)) {
      if (name in this.report.pages || page.isClosed()) continue;
      const shown = await Promise.race([
        this.snapshot(name).catch(() => null),
        new Promise((resolve) => setTimeout(() => resolve(null), 1000).unref()),
      ]);
      if (shown !== null) this.report.pages[name] = shown;
    }
  }
}

/**
 * Run `scenario(browser)` in a fresh headless Chromium, then print the report
 * (`fields`, the driver's own, with the common ones) and exit. `show(page)`
 * returns what a page shows. The scenario fails by throwing, or by not
 * finishing within --timeout milliseconds.
 */
export function drive(fields, show, scenario) {
  const report = { ok: false, error: null, step: "start", browserVersion: null, pages: {}, screenshots: [], ...fields };
  let context = null;
  let userDataDir = null;
  let browser = null;
  let finished = false;

  async function cleanUp() {
    // Bounded: a wedged browser must not keep the driver alive.
    const closing = (async () => {
      if (context !== null) await context.close().catch(() => {});
      if (userDataDir !== null) await rm(userDataDir, { recursive: true, force: true });
    })();
    await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
  }

  async function finish(ok, error = null) {
    if (finished) return;
    finished = true;
    report.ok = ok;
    if (error !== null) report.error = `${report.step}: ${error}`;
    await cleanUp().catch(() => {});
    process.stdout.write(JSON.stringify(report) + "\n", () => process.exit(ok ? 0 : 1));
  }

  async function main() {
    const opts = options();
    setTimeout(() => finish(false, `no result within ${opts.timeout} ms`), opts.timeout).unref();
    report.step = "launch";
    userDataDir = await mkdtemp(join(tmpdir(), "engineio-sc-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: opts.chromium,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 720, height: 540 },
      timeout: stepTimeout(opts),
    });
    report.browserVersion = context.browser()?.version() ?? null;
    browser = new Browser(context, opts, report, show);
    await scenario(browser);
    report.step = "done";
    await finish(true);
  }

  main().catch(async (err) => {
    const message = err instanceof Error ? err.message : String(err);
    await browser?.salvage().catch(() => {});
    await finish(false, message);
  });
}
