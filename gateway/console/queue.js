// The incident queue: open incidents by priority then age, each with its response countdown and,
// when a dispatch has gone unacknowledged past its deadline, an alarm cue that stays until acted on.

import { ackDeadline, ackOverdue, responseClock } from "./clocks.js";
import { ApiError } from "./api.js";
import { clock, debounce, h, hhmmss, priorityBadge, stateBadge, swap } from "./util.js";

// Not yet triaged first (an untriaged call may be a P1), then P1..P4; oldest first within each.
const RANK = { P1: 1, P2: 2, P3: 3, P4: 4 };

export function byPriorityThenAge(a, b) {
  return (RANK[a.priority] || 0) - (RANK[b.priority] || 0) || Date.parse(a.created_at) - Date.parse(b.created_at);
}

export function createQueue(ctx) {
  const list = document.getElementById("queue");
  const count = document.getElementById("queue-count");
  const filters = document.getElementById("filters");
  const categories = document.getElementById("categories");
  const known = new Set();
  let seq = 0;

  function query() {
    const params = new URLSearchParams();
    const state = filters.elements.state.value;
    if (state) params.set("state", state);
    const prios = [...filters.querySelectorAll('input[name="priority"]:checked')].map((i) => i.value);
    if (prios.length) params.set("priority", prios.join(","));
    const category = filters.elements.category.value.trim();
    if (category) params.set("category", category);
    params.set("limit", "200");
    return params.toString();
  }

  async function refresh() {
    const mine = ++seq;
    try {
      const found = await ctx.api.get(`/api/v1/incidents?${query()}`);
      if (mine !== seq) return;
      ctx.incidents = found.sort(byPriorityThenAge);
      for (const inc of found) if (inc.category) known.add(inc.category);
      if (ctx.calls) ctx.calls.reconcile(found);
      swap(categories, [...known].sort().map((c) => h("option", { value: c })));
      render();
    } catch (err) {
      if (mine !== seq) return;
      // Keep what is on screen (it may still be right) and say plainly that it is not fresh.
      const why = err instanceof ApiError ? err.describe() : err.message;
      if (!ctx.incidents.length) swap(list, h("li", { class: "queue-empty error" }, `Could not load the queue: ${why}`));
      count.textContent = `(${ctx.incidents.length}, not refreshed: ${why})`;
      count.classList.add("stale");
    }
  }

  const refreshSoon = debounce(refresh, 200);

  function item(inc) {
    const alarm = ackOverdue(inc, ctx.targets);
    const incoming = Boolean(ctx.calls && ctx.calls.isWaiting(inc.reference));
    const classes = `q-item${alarm ? " alarm" : ""}${incoming ? " incoming" : ""}${ctx.selected === inc.reference ? " selected" : ""}`;
    return h(
      "li",
      { class: classes, "data-ref": inc.reference },
      h(
        "button",
        {
          type: "button",
          class: "q-open",
          "data-key": `q-${inc.reference}`,
          "aria-current": ctx.selected === inc.reference ? "true" : null,
          onclick: () => ctx.openIncident(inc.reference),
        },
        h("span", { class: "q-line1" }, priorityBadge(inc.priority), h("span", { class: "q-ref mono" }, inc.reference), stateBadge(inc.state),
          inc.source === "call" ? h("span", { class: "badge plain" }, "call") : null,
          incoming ? h("span", { class: "badge incoming-badge" }, "Incoming call · O") : null),
        h("span", { class: "q-nature" }, inc.nature || "Details not taken yet"),
        h("span", { class: "q-line3" },
          h("span", { class: "q-loc" }, [inc.location, inc.category].filter(Boolean).join(" · ") || "—"),
          responseClock(inc)),
        h("span", { class: "q-ack", "data-role": "ack-cue", hidden: !alarm }),
      ),
    );
  }

  function render() {
    const rows = ctx.incidents.map(item);
    swap(list, rows.length ? rows : h("li", { class: "queue-empty" }, "No incident matches. Calm for now."));
    count.textContent = `(${ctx.incidents.length})`;
    count.classList.remove("stale");
    ctx.tickClocks(list);
    tick(Date.now());
  }

  /** Once a second: alarm cues (countdowns are rewritten by the shared clock tick). */
  function tick(now) {
    const overdue = [];
    for (const inc of ctx.incidents) {
      const li = list.querySelector(`li[data-ref="${CSS.escape(inc.reference)}"]`);
      const alarm = ackOverdue(inc, ctx.targets, now);
      if (alarm) overdue.push(inc.reference);
      if (!li) continue;
      li.classList.toggle("alarm", alarm);
      const cue = li.querySelector('[data-role="ack-cue"]');
      cue.hidden = !alarm;
      if (alarm) {
        const deadline = ackDeadline(inc, ctx.targets);
        const over = deadline ? ` ${clock((now - deadline) / 1000)} past the deadline` : "";
        const level = inc.escalation_level ? ` · escalated to level ${inc.escalation_level}` : "";
        cue.textContent = `⚠ No acknowledgement:${over}${level} (dispatched ${hhmmss(inc.dispatched_at)})`;
      }
    }
    ctx.alarm.update(overdue);
  }

  function buttons() {
    return [...list.querySelectorAll("button.q-open")];
  }

  /** J/K: move keyboard focus through the queue. */
  function move(delta) {
    const all = buttons();
    if (!all.length) return;
    let at = all.indexOf(document.activeElement);
    if (at < 0) {
      at = all.findIndex((b) => b.getAttribute("aria-current") === "true");
      at = at < 0 ? (delta > 0 ? -1 : all.length) : at;
    }
    const next = all[Math.max(0, Math.min(all.length - 1, at + delta))];
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  }

  filters.addEventListener("change", () => refresh());
  filters.addEventListener("input", (e) => {
    if (e.target.name === "category") refreshSoon();
  });
  filters.addEventListener("submit", (e) => e.preventDefault());

  return { refresh, refreshSoon, render, tick, move };
}
