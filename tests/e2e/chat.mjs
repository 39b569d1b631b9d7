// Browser driver for tests/e2e/test_chat_browser.py: two pages of headless
// Chromium (Debian's /usr/bin/chromium, driven by the npm `playwright-core`, which
// downloads no browser) chat through examples/chat, and what they showed is
// reported as one JSON line.
//
// Setup (once):  npm ci --prefix tests/e2e
//
// Usage:
//   node tests/e2e/chat.mjs --url http://127.0.0.1:PORT/ --screenshots DIR
//       [--chromium /usr/bin/chromium] [--timeout 30000]
//
// Steps: pages A and B open the chat and wait until their transport is upgraded
// to websocket; A sends MESSAGE_A with the button and both must show it; B sends
// MESSAGE_B with the Enter key and both must show it; each page is captured as
// DIR/A.png and DIR/B.png; then A closes, B sends MESSAGE_C and must show it.
//
// Output (stdout, exactly one line):
//   {"ok": bool, "error": str|null, "step": str, "browserVersion": str|null,
//    "sent": {"A": str, "B": str, "C": str},
//    "pages": {"A": PAGE, "B": PAGE}, "afterLeave": PAGE|null, "screenshots": [str]}
//   PAGE = {"eioGlobal": str, "state": str, "stateText": str,
//           "transport": str, "upgrades": str, "messages": [str], "notices": [str],
//           "markupInMessages": int, "inputValue": str, "errors": [str]}
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

const SENT = {
  A: "hello from A ✓",
  B: "héllo from B 🎉 <b>not bold</b>",
  C: "B is alone now",
};

const report = {
  ok: false,
  error: null,
  step: "start",
  browserVersion: null,
  sent: SENT,
  pages: {},
  afterLeave: null,
  screenshots: [],
};

let context = null;
let userDataDir = null;
let finished = false;
const pages = {};
const errors = {};

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

/** What a page shows (and a little of what it runs). */
function snapshot(page, errors) {
  return page
    .evaluate(() => {
      const texts = (selector) => [...document.querySelectorAll(selector)].map((e) => e.textContent);
      const state = document.getElementById("state");
      return {
        eioGlobal: typeof window.eio,
        state: state.dataset.state,
        stateText: state.textContent,
        transport: document.getElementById("transport").textContent,
        upgrades: document.getElementById("upgrades").textContent,
        messages: texts("#messages li.message"),
        notices: texts("#messages li.notice"),
        markupInMessages: document.querySelectorAll("#messages li.message *").length,
        inputValue: document.getElementById("input").value,
      };
    })
    .then((shown) => ({ ...shown, errors: [...errors] }));
}

function waitForMessage(page, text, timeout) {
  return page.waitForFunction(
    (wanted) =>
      [...document.querySelectorAll("#messages li.message")].some((e) => e.textContent === wanted),
    text,
    { timeout },
  );
}

async function main() {
  const opts = options();
  setTimeout(() => finish(false, `no result within ${opts.timeout} ms`), opts.timeout).unref();
  const wait = Math.max(1000, Math.floor(opts.timeout / 3));

  report.step = "launch";
  userDataDir = await mkdtemp(join(tmpdir(), "engineio-sc-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opts.chromium,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 720, height: 540 },
    timeout: wait,
  });
  report.browserVersion = context.browser()?.version() ?? null;

  for (const name of ["A", "B"]) {
    const page = name === "A" && context.pages().length > 0 ? context.pages()[0] : await context.newPage();
    errors[name] = [];
    page.on("console", (msg) => {
      if (msg.type() === "error" || msg.type() === "warning") errors[name].push(`console ${msg.type()}: ${msg.text()}`);
    });
    page.on("pageerror", (err) => errors[name].push(`page error: ${err.message}`));
    page.on("requestfailed", (req) =>
      errors[name].push(`request failed: ${req.url()} ${req.failure()?.errorText}`),
    );
    page.on("response", (res) => {
      if (res.status() >= 400) errors[name].push(`HTTP ${res.status()}: ${res.url()}`);
    });
    pages[name] = page;
  }

  report.step = "open";
  await Promise.all(Object.values(pages).map((page) => page.goto(opts.url, { timeout: wait })));
  report.step = "upgrade";
  await Promise.all(
    Object.values(pages).map((page) =>
      page.waitForFunction(
        () =>
          document.getElementById("state").dataset.state === "open" &&
          document.getElementById("transport").textContent === "websocket",
        undefined,
        { timeout: wait },
      ),
    ),
  );

  report.step = "A sends";
  await pages.A.fill("#input", SENT.A);
  await pages.A.click("#send");
  await Promise.all(Object.values(pages).map((page) => waitForMessage(page, SENT.A, wait)));

  report.step = "B sends";
  await pages.B.fill("#input", SENT.B);
  await pages.B.press("#input", "Enter");
  await Promise.all(Object.values(pages).map((page) => waitForMessage(page, SENT.B, wait)));

  report.step = "snapshot";
  for (const name of ["A", "B"]) {
    report.pages[name] = await snapshot(pages[name], errors[name]);
    const file = join(opts.screenshots, `${name}.png`);
    await pages[name].screenshot({ path: file, timeout: wait });
    report.screenshots.push(file);
  }

  report.step = "A leaves";
  await pages.A.close();
  await pages.B.fill("#input", SENT.C);
  await pages.B.click("#send");
  await waitForMessage(pages.B, SENT.C, wait);
  report.afterLeave = await snapshot(pages.B, errors.B);

  report.step = "done";
  await finish(true);
}

/** On failure, what the open pages showed (when they still answer, within a second). */
async function salvage() {
  for (const [name, page] of Object.entries(pages)) {
    if (name in report.pages || page.isClosed()) continue;
    const shown = await Promise.race([
      snapshot(page, errors[name]).catch(() => null),
      new Promise((resolve) => setTimeout(() => resolve(null), 1000).unref()),
    ]);
    if (shown !== null) report.pages[name] = shown;
  }
}

main().catch(async (err) => {
  const message = err instanceof Error ? err.message : String(err);
  await salvage().catch(() => {});
  await finish(false, message);
});
