// Live clocks: response-time countdowns, time in status, ack deadlines. Elements carry their
// reference time in data attributes and one tick a second rewrites their text in place.

import { ago, clock, h, ms, span } from "./util.js";

const FINISHED = new Set(["resolved", "closed", "cancelled"]);

/** The countdown to an incident's response target (creation to on scene), or how it ended. */
export function responseClock(inc) {
  if (!inc.response_due_at) return h("span", { class: "due muted" }, "no target until triaged");
  if (inc.on_scene_at) {
    const took = (ms(inc.on_scene_at) - ms(inc.created_at)) / 1000;
    const met = took <= inc.response_target_seconds;
    return h(
      "span",
      { class: `due ${met ? "met" : "missed"}` },
      `on scene after ${span(took)}, target ${met ? "met" : "missed"}`,
    );
  }
  if (FINISHED.has(inc.state)) return h("span", { class: "due muted" }, "no on-scene time");
  return h("span", {
    class: "due",
    "data-until": inc.response_due_at,
    "data-before": "on scene due in",
    "data-after": "response overdue by",
    "data-warn": String(Math.min(120, inc.response_target_seconds * 0.25)),
  });
}

/** When a dispatched incident should have been acknowledged (epoch ms), or null. */
export function ackDeadline(inc, targets) {
  const target = targets && inc.priority ? targets[inc.priority] : null;
  if (inc.state !== "dispatched" || !inc.dispatched_at || !target) return null;
  return ms(inc.dispatched_at) + target.ack_deadline * 1000;
}

/** True when the incident is past its ack deadline (or was escalated) with nobody acknowledging. */
export function ackOverdue(inc, targets, now = Date.now()) {
  if (inc.state !== "dispatched") return false;
  const deadline = ackDeadline(inc, targets);
  return (deadline !== null && now >= deadline) || inc.escalation_level > 0;
}

/** Rewrite every live clock under `root`. */
export function tickClocks(root, now = Date.now()) {
  for (const el of root.querySelectorAll("[data-until]")) {
    const left = (ms(el.dataset.until) - now) / 1000;
    const warn = Number(el.dataset.warn || 0);
    el.textContent = left > 0 ? `${el.dataset.before} ${clock(left)}` : `${el.dataset.after} ${clock(-left)}`;
    el.classList.toggle("overdue", left <= 0);
    el.classList.toggle("soon", left > 0 && left <= warn);
  }
  for (const el of root.querySelectorAll("[data-since]")) {
    el.textContent = clock((now - ms(el.dataset.since)) / 1000);
  }
  for (const el of root.querySelectorAll("[data-ago]")) {
    el.textContent = ago(el.dataset.ago, now);
  }
}
