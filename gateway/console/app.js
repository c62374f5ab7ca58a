// The desk console's entry point: sign-in, the role, the views, the live event stream and the
// keyboard. Everything the page knows comes from the public API and its WebSocket.

import { createAlarm } from "./alarm.js";
import { Api, ApiError } from "./api.js";
import { createBoard } from "./board.js";
import { createCalls } from "./calls.js";
import { tickClocks } from "./clocks.js";
import { createIncidentPane } from "./incident.js";
import { createKpis } from "./kpis.js";
import { LiveEvents } from "./live.js";
import { createQueue } from "./queue.js";
import { createReview } from "./review.js";
import { debounce, hhmmss } from "./util.js";

const TOKEN_KEY = "callout.token";
const NOTICE_KEY = "callout.notice";
const $ = (selector) => document.querySelector(selector);
const VIEWS = ["queue", "board", "kpis", "review"];

const ctx = {
  api: null,
  me: null,
  incidents: [],
  resources: [],
  resourcesById: new Map(),
  channels: [],
  targets: null,
  triage: null,
  selected: null,
  view: "queue",
  tickClocks,
  can(permission) {
    return Boolean(this.me && this.me.permissions.includes(permission));
  },
};

// ---- sign-in -------------------------------------------------------------------------------

function showSignIn(message = "") {
  $("#desk").hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").textContent = message;
  $("#signin-token").focus();
}

async function signIn(token, { quiet = false } = {}) {
  const api = new Api(token);
  try {
    ctx.me = await api.get("/api/v1/me");
  } catch (err) {
    if (quiet && err.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    const why = err.status === 401 ? "That token is not valid." : `Cannot sign in: ${err.message}`;
    showSignIn(quiet && err.status === 401 ? "Your session ended; sign in again." : why);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  ctx.api = new Api(token, { onUnauthorized: () => signOut("The server no longer accepts your token; sign in again.") });
  ctx.triage = await ctx.api.get("/api/v1/triage").catch(() => null); // for live classification and priority
  await startDesk(token);
}

function signOut(notice = "") {
  sessionStorage.removeItem(TOKEN_KEY);
  if (notice) sessionStorage.setItem(NOTICE_KEY, notice);
  window.location.reload();
}

$("#signin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = $("#signin-token").value.trim();
  if (!token) {
    $("#signin-error").textContent = "Enter your API token.";
    $("#signin-token").setAttribute("aria-invalid", "true");
    return;
  }
  signIn(token);
});

// ---- banner, link status, dialogs ----------------------------------------------------------

let bannerTimer = null;

function banner(text, { kind = "info", hideAfter = 0 } = {}) {
  const el = $("#banner");
  clearTimeout(bannerTimer);
  el.textContent = text;
  el.className = `banner banner-${kind}`;
  el.hidden = !text;
  if (hideAfter) bannerTimer = setTimeout(() => { el.hidden = true; }, hideAfter);
}

function confirmDialog({ title, text, ok, note = "", value = "" }) {
  const dialog = $("#confirm");
  const before = document.activeElement;
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = ok;
  $("#confirm-note-row").hidden = !note;
  $("#confirm-note-label").textContent = note;
  $("#confirm-note").value = value;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        const yes = dialog.returnValue === "ok";
        resolve(yes ? (note ? $("#confirm-note").value.trim() : true) : false);
        if (before && before.isConnected) before.focus();
      },
      { once: true },
    );
    dialog.showModal();
    $("#confirm-ok").focus();
  });
}
ctx.confirm = confirmDialog;

function openHelp() {
  const help = $("#help");
  if (!help.open) help.showModal();
}

// ---- views ---------------------------------------------------------------------------------

let modules = null;

function showView(name, { focus = false } = {}) {
  if (!VIEWS.includes(name)) return;
  ctx.view = name;
  for (const section of document.querySelectorAll("main .view")) section.hidden = section.dataset.view !== name;
  for (const tab of document.querySelectorAll(".tabs .tab")) {
    if (tab.dataset.view === name) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (name === "board") modules.board.refresh().then(() => focus && modules.board.focus()).catch(() => {});
  if (name === "kpis") modules.kpis.refresh().then(() => focus && modules.kpis.focus());
  if (name === "review") modules.review.refresh().then(() => focus && modules.review.focus());
}

// ---- live events ---------------------------------------------------------------------------

// A call never takes the screen: it is announced (calls.js) and taken with O.
function screenPop(ref, info) {
  modules.queue.refreshSoon();
  modules.calls.announce(ref, info);
}

const refreshUnits = debounce(async () => {
  try {
    await modules.board.refreshUnits();
    modules.board.render();
    modules.incident.refreshUnits();
  } catch {
    /* the next event or resync tries again */
  }
}, 250);

const refreshChannels = debounce(async () => {
  try {
    await modules.board.refreshChannels();
    modules.board.render();
  } catch {
    /* as above */
  }
}, 250);

function onEvent(event) {
  const kind = event.kind || "";
  if (kind.startsWith("incident.") || kind.startsWith("call.")) modules.queue.refreshSoon();
  if (event.incident) {
    modules.incident.onEvent(event);
    modules.calls.onEvent(event);
  }
  if (kind.startsWith("unit.")) refreshUnits();
  if (kind === "channel.health") refreshChannels();
  if (kind === "incident.review_ready" && ctx.view === "review") modules.review.refreshList();
  if (event.replay) return; // old news: the resync after a reconnect shows the current state
  if (kind === "call.screen_pop") screenPop(event.incident, { at: event.at, result: event.data.result });
  if (kind === "incident.created" && event.data.source === "call") screenPop(event.incident, { at: event.at, result: "created" });
}

const resync = debounce(async () => {
  try {
    await Promise.all([modules.board.refresh(), modules.queue.refresh(), modules.incident.resync()]);
  } catch {
    /* shown by the views themselves */
  }
}, 300);

let downSince = null;

function onStatus(st) {
  const el = $("#link-status");
  document.body.classList.toggle("offline", st.state !== "live");
  if (st.state === "live") {
    el.textContent = "● Live";
    el.className = "link-status live";
    if (st.reconnected) {
      const missed = `${st.replayed} missed event${st.replayed === 1 ? "" : "s"} replayed`;
      banner(`Reconnected at ${hhmmss(new Date().toISOString())}. Resynchronised: ${missed}; the desk is up to date.`, { kind: "ok", hideAfter: 20000 });
      resync();
    }
    downSince = null;
  } else if (st.state === "down") {
    downSince = downSince || new Date().toISOString();
    el.textContent = `Connection lost · retrying in ${Math.ceil(st.delay)}s`;
    el.className = "link-status down";
    banner(`Live updates stopped at ${hhmmss(downSince)}. What you see may be out of date; reconnecting (try ${st.attempt})…`, { kind: "warn" });
  } else {
    el.textContent = st.everConnected ? `Reconnecting… (try ${st.attempt})` : "Connecting…";
    el.className = "link-status connecting";
  }
}

// ---- keyboard ------------------------------------------------------------------------------

function isTyping(el) {
  if (!el) return false;
  if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  return el.tagName === "INPUT" && !["checkbox", "radio", "button", "submit"].includes(el.type);
}

function onKey(e) {
  if (document.querySelector("dialog[open]") || $("#desk").hidden) return;
  const inc = modules.incident;
  if ((e.ctrlKey || e.metaKey) && (e.key === "s" || e.key === "Enter") && ctx.view === "queue") {
    e.preventDefault();
    inc.save();
    return;
  }
  if (isTyping(e.target)) {
    if (e.key === "Escape") e.target.blur();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const inQueue = e.target.closest && e.target.closest("#queue");
  const actions = {
    "?": openHelp,
    1: () => showView("queue", { focus: true }),
    2: () => showView("board", { focus: true }),
    3: () => showView("kpis", { focus: true }),
    4: () => showView("review", { focus: true }),
    j: () => { showView("queue"); modules.queue.move(1); },
    k: () => { showView("queue"); modules.queue.move(-1); },
    ArrowDown: inQueue ? () => modules.queue.move(1) : null,
    ArrowUp: inQueue ? () => modules.queue.move(-1) : null,
    "/": () => { showView("queue"); $("#filter-category").focus(); },
    n: () => { showView("queue"); inc.startNew(); },
    o: () => modules.calls.take(),
    e: () => { showView("queue"); inc.focusForm(); },
    d: () => ctx.view === "queue" && inc.dispatch(),
    a: () => ctx.view === "queue" && inc.acknowledge(),
    r: () => ctx.view === "queue" && inc.resolve(),
    c: () => ctx.view === "queue" && inc.close(),
    v: () => inc.openReview(),
    m: () => {
      const n = ctx.alarm.silence();
      if (n) banner(`Alarm sound silenced for ${n} incident${n === 1 ? "" : "s"}. The cue stays until someone acts.`, { hideAfter: 8000 });
    },
  };
  const action = actions[e.key.length === 1 ? e.key.toLowerCase() : e.key] || actions[e.key];
  if (action) {
    e.preventDefault();
    action();
  }
}

// ---- the desk ------------------------------------------------------------------------------

async function startDesk(token) {
  $("#signin").hidden = true;
  $("#desk").hidden = false;
  document.body.classList.add(`role-${ctx.me.role}`);
  document.body.classList.toggle("can-write", ctx.can("incident.write"));
  $("#who").textContent = `${ctx.me.name} · ${ctx.me.role}`;
  $("#who").title = $("#who").textContent;
  $("#new-incident").hidden = !ctx.can("incident.write");

  ctx.alarm = createAlarm({
    onChange: () => {
      const button = $("#sound-toggle");
      button.setAttribute("aria-pressed", String(ctx.alarm.enabled));
      button.textContent = ctx.alarm.enabled ? "Sound on" : "Sound off";
    },
  });
  modules = {
    queue: createQueue(ctx),
    incident: createIncidentPane(ctx),
    board: createBoard(ctx),
    kpis: createKpis(ctx),
    review: createReview(ctx),
  };
  ctx.queue = modules.queue;
  ctx.showView = showView;
  modules.calls = createCalls(ctx);
  ctx.calls = modules.calls;
  ctx.openIncident = async (ref, opts) => {
    showView("queue");
    try {
      const opened = await modules.incident.open(ref, opts);
      if (opened) modules.calls.settle(ref);
      return opened;
    } catch (err) {
      banner(`Could not open ${ref}: ${err instanceof ApiError ? err.describe() : err.message}`, { kind: "error", hideAfter: 15000 });
      return false;
    }
  };
  ctx.openReview = (ref) => {
    showView("review");
    return modules.review.show(ref);
  };

  for (const tab of document.querySelectorAll(".tabs .tab")) tab.addEventListener("click", () => showView(tab.dataset.view, { focus: true }));
  $("#new-incident").addEventListener("click", () => modules.incident.startNew());
  $("#help-open").addEventListener("click", openHelp);
  $("#signout").addEventListener("click", () => signOut());
  $("#sound-toggle").addEventListener("click", () => ctx.alarm.setEnabled(!ctx.alarm.enabled));
  document.addEventListener("keydown", onKey);

  // The stream first, so nothing that happens while the views load is missed.
  const live = new LiveEvents({ token, onEvent, onStatus });
  live.start();
  showView("queue");
  await Promise.all([
    modules.board.refresh().catch((err) => banner(`Could not load units: ${err.message}`, { kind: "error" })),
    modules.kpis.loadTargets().catch(() => banner("Ack deadlines unknown (KPI endpoint unavailable): overdue cues show only after an escalation.", { kind: "warn" })),
  ]);
  await modules.queue.refresh();

  setInterval(() => {
    const now = Date.now();
    tickClocks(document.body, now);
    modules.queue.tick(now);
    const alarms = ctx.alarm.ringing().length;
    document.title = `${alarms ? `(${alarms} ⚠) ` : ""}callout · dispatch desk`;
  }, 1000);
}

// ---- boot ----------------------------------------------------------------------------------

const notice = sessionStorage.getItem(NOTICE_KEY) || "";
sessionStorage.removeItem(NOTICE_KEY);
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved, { quiet: true });
else showSignIn(notice);

