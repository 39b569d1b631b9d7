// Browser driver for tests/e2e/test_socketio_chat_browser.py: four pages of
// headless Chromium use examples/socketio_chat (the Socket.IO chat with rooms),
// and what they showed is reported as one JSON line. Options, set-up and the
// common report fields: see browser.mjs.
//
// Steps: Ada (page A), Bob (B) and Cleo (C) connect, each waiting for its
// upgrade to websocket; page D connects without a name and must be refused.
// A and B join "red", C joins "blue", each join's ack naming who is there.
// A says RED_1: B must show it; C says BLUE_1. B moves to "blue"; A says RED_2,
// C says BLUE_2: B must show BLUE_2. C and D are captured, then C closes (B must
// see Cleo leave) and A leaves "red"; A and B are captured.
//
// Why what a page lacks is known once it is captured: the server answers each
// event (its ack) after its emits, and each client gets what is sent to it in
// order. So once C's BLUE_1 is acked, RED_1 would have reached C had it been
// sent there; once B's join of "blue" is acked, BLUE_1 would have reached B;
// once A shows "Bob left", BLUE_1 would have reached A; and as RED_2 was acked
// before C said BLUE_2, RED_2 would have reached B before BLUE_2.
//
// The driver's own report fields: {"sent": {NAME: str}} (the messages).
// PAGE = {"ioGlobal": str, "transport": str|null, "state": str, "stateText": str,
//         "room": str, "members": [str], "notices": [str],
//         "messages": [{"from": str, "text": str, "ack": str|null}],
//         "markupInMessages": int, "canConnect": bool, "canJoin": bool,
//         "canSend": bool, "errors": [str]}

import { drive } from "./browser.mjs";

const SENT = {
  RED_1: "hello red, from Ada ✓",
  BLUE_1: "blue is quiet 🎉 <b>not bold</b>",
  RED_2: "anyone still in red?",
  BLUE_2: "welcome to blue, Bob",
};
const NAMES = { A: "Ada", B: "Bob", C: "Cleo", D: "" };

/** What a page shows. */
function show(page) {
  return page.evaluate(() => {
    const $ = (id) => document.getElementById(id);
    const texts = (selector) => [...document.querySelectorAll(selector)].map((e) => e.textContent);
    /* global socket: the page's own connection (a top-level `let`) */
    return {
      ioGlobal: typeof window.io,
      transport: socket?.io.engine?.transport?.name ?? null,
      state: $("state").dataset.state,
      stateText: $("state").textContent,
      room: $("current-room").textContent,
      members: texts("#members li"),
      notices: texts("#messages li.notice"),
      messages: [...document.querySelectorAll("#messages li.message")].map((e) => ({
        from: e.querySelector(".from").textContent,
        text: e.querySelector(".text").textContent,
        ack: e.dataset.ack ?? null,
      })),
      markupInMessages: document.querySelectorAll("#messages li.message span *").length,
      canConnect: !$("connect").disabled,
      canJoin: !$("join").disabled,
      canSend: !$("send").disabled,
    };
  });
}

drive({ sent: SENT }, show, async (browser) => {
  const { pages, wait } = browser;
  const until = (page, predicate, arg) => page.waitForFunction(predicate, arg, { timeout: wait });

  const connected = (page) =>
    until(page, () => document.getElementById("state").dataset.state === "connected" &&
      socket.io.engine.transport.name === "websocket");
  const inRoom = (page, room, members) =>
    until(page, ([room, members]) =>
      document.getElementById("current-room").textContent === room &&
      JSON.stringify([...document.querySelectorAll("#members li")].map((e) => e.textContent)) ===
        JSON.stringify(members),
      [room, members]);
  const shows = (page, selector, text) =>
    until(page, ([selector, text]) =>
      [...document.querySelectorAll(selector)].some((e) => e.textContent === text),
      [selector, text]);
  const acked = (page, text) =>
    until(page, (text) =>
      [...document.querySelectorAll("#messages li.message.mine")].some(
        (e) => e.querySelector(".text").textContent === text && e.dataset.ack !== "pending"),
      text);

  async function join(name, room, members) {
    browser.step(`${name} joins ${room}`);
    const page = await browser.use(name);
    await page.fill("#room", room);
    await page.click("#join");
    await inRoom(page, room, members);
  }
  async function say(name, text) {
    browser.step(`${name} says ${text}`);
    const page = await browser.use(name);
    await page.fill("#input", text);
    await page.press("#input", "Enter");
    await acked(page, text);
  }

  browser.step("open");
  await browser.open(Object.keys(NAMES));
  browser.step("connect");
  for (const [name, person] of Object.entries(NAMES)) {
    const page = await browser.use(name);
    await page.fill("#name", person);
    await page.click("#connect");
  }
  await Promise.all([
    ...["A", "B", "C"].map((name) => connected(pages[name])),
    until(pages.D, () => document.getElementById("state").dataset.state === "refused"),
  ]);

  await join("A", "red", ["Ada"]);
  await join("B", "red", ["Ada", "Bob"]);
  await inRoom(pages.A, "red", ["Ada", "Bob"]);
  await join("C", "blue", ["Cleo"]);

  await say("A", SENT.RED_1);
  await shows(pages.B, "#messages li.message .text", SENT.RED_1);
  await say("C", SENT.BLUE_1);

  await join("B", "blue", ["Bob", "Cleo"]);
  await inRoom(pages.A, "red", ["Ada"]);
  await shows(pages.A, "#messages li.notice", "Bob left");
  await inRoom(pages.C, "blue", ["Bob", "Cleo"]);
  await say("A", SENT.RED_2);
  await say("C", SENT.BLUE_2);
  await shows(pages.B, "#messages li.message .text", SENT.BLUE_2);

  browser.step("capture C and D");
  await browser.capture("C");
  await browser.capture("D");

  browser.step("C closes");
  await pages.C.close();
  await inRoom(pages.B, "blue", ["Bob"]);
  await shows(pages.B, "#messages li.notice", "Cleo left");

  browser.step("A leaves red");
  await (await browser.use("A")).click("#leave");
  await inRoom(pages.A, "none", []);

  browser.step("capture A and B");
  await browser.capture("A");
  await browser.capture("B");
});
