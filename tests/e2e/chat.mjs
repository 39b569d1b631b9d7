// Browser driver for tests/e2e/test_chat_browser.py: two pages of headless
// Chromium chat through examples/chat (the Engine.IO chat), and what they showed
// is reported as one JSON line. Options, set-up and the common report fields:
// see browser.mjs.
//
// Steps: pages A and B open the chat and wait until their transport is upgraded
// to websocket; A sends MESSAGE_A with the button and both must show it; B sends
// MESSAGE_B with the Enter key and both must show it; each page is captured as
// DIR/A.png and DIR/B.png; then A closes, B sends MESSAGE_C and must show it.
//
// The driver's own report fields:
//   {"sent": {"A": str, "B": str, "C": str}, "afterLeave": PAGE|null}
//   PAGE = {"eioGlobal": str, "state": str, "stateText": str,
//           "transport": str, "upgrades": str, "messages": [str], "notices": [str],
//           "markupInMessages": int, "inputValue": str, "errors": [str]}

import { drive } from "./browser.mjs";

const SENT = {
  A: "hello from A ✓",
  B: "héllo from B 🎉 <b>not bold</b>",
  C: "B is alone now",
};

/** What a page shows (and a little of what it runs). */
function show(page) {
  return page.evaluate(() => {
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
  });
}

function waitForMessage(page, text, timeout) {
  return page.waitForFunction(
    (wanted) =>
      [...document.querySelectorAll("#messages li.message")].some((e) => e.textContent === wanted),
    text,
    { timeout },
  );
}

drive({ sent: SENT, afterLeave: null }, show, async (browser) => {
  const { wait, report } = browser;
  browser.step("open");
  const [a, b] = await browser.open(["A", "B"]);
  browser.step("upgrade");
  await Promise.all(
    [a, b].map((page) =>
      page.waitForFunction(
        () =>
          document.getElementById("state").dataset.state === "open" &&
          document.getElementById("transport").textContent === "websocket",
        undefined,
        { timeout: wait },
      ),
    ),
  );

  browser.step("A sends");
  await a.fill("#input", SENT.A);
  await a.click("#send");
  await Promise.all([a, b].map((page) => waitForMessage(page, SENT.A, wait)));

  browser.step("B sends");
  await b.fill("#input", SENT.B);
  await b.press("#input", "Enter");
  await Promise.all([a, b].map((page) => waitForMessage(page, SENT.B, wait)));

  browser.step("snapshot");
  await browser.capture("A");
  await browser.capture("B");

  browser.step("A leaves");
  await a.close();
  await b.fill("#input", SENT.C);
  await b.click("#send");
  await waitForMessage(b, SENT.C, wait);
  report.afterLeave = await browser.snapshot("B");
});
