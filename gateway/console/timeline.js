// Per unit, the timeline of what was sent and what came back: each attempt's channel, state and
// evidence, the fallback taken when it stopped, and the acknowledgement. "Sent" never reads as
// "acknowledged": every state is spelled out.

import { CLOSED_REASON, DELIVERY_STATE, FALLBACK_REASONS, h, hhmmss, label } from "./util.js";

const PURPOSE = { dispatch: "Dispatch", stand_down: "Stand-down", notify: "Notification" };
const SHOWN_OUTCOMES = new Set(["exhausted", "declined"]);

function evidenceText(evidence) {
  if (!evidence) return "";
  return Object.entries(evidence)
    .filter(([, v]) => v !== null && v !== "" && typeof v !== "object")
    .slice(0, 5)
    .map(([k, v]) => `${k.replaceAll("_", " ")} ${v}`)
    .join(" · ");
}

/** Why an attempt ended and what the delivery did next: the fallback, in words. */
function fallbackText(a, d) {
  const why = label(CLOSED_REASON, a.closed_reason);
  if (!FALLBACK_REASONS.has(a.closed_reason)) return `↪ ${why}`;
  const later = d.attempts.find((b) => b.id > a.id && b.endpoint !== a.endpoint);
  if (later) return `↪ ${why}: fell back to ${later.channel} → ${later.address}`;
  if (d.completed_at) return `↪ ${why}: no endpoint left`;
  return `↪ ${why}: moving to the next endpoint`;
}

function attemptRow(a, d) {
  const open = !a.closed_reason && ["sent", "delivered"].includes(a.state) && a.ack_deadline_at;
  return h("li", { class: `attempt st-${a.state}` },
    h("span", { class: "when mono" }, hhmmss(a.sent_at || a.updated_at)),
    h("span", { class: "via" }, h("strong", {}, a.channel), ` → ${a.address}`, h("span", { class: "muted" }, ` (endpoint ${a.endpoint + 1})`)),
    h("span", { class: `dstate ds-${a.state}` }, label(DELIVERY_STATE, a.state)),
    a.tries ? h("span", { class: "muted" }, ` · ${a.tries} retr${a.tries === 1 ? "y" : "ies"}`) : null,
    evidenceText(a.evidence) ? h("span", { class: "evidence" }, evidenceText(a.evidence)) : null,
    a.closed_reason && a.closed_reason !== "acknowledged"
      ? h("span", { class: `fallback${FALLBACK_REASONS.has(a.closed_reason) ? " took" : ""}` }, fallbackText(a, d))
      : null,
    open ? h("span", { class: "ackclock", "data-until": a.ack_deadline_at, "data-before": "ack due in", "data-after": "no ack for", "data-warn": "5" }) : null,
  );
}

function ackLine(d) {
  if (!d.acknowledged_at) return null;
  const ev = d.ack_evidence || {};
  const how = [ev.actor ? `by ${ev.actor}` : "", ev.channel ? `via ${ev.channel}` : ev.source ? `at the ${ev.source}` : "", ev.text ? `“${ev.text}”` : ""].filter(Boolean).join(" ");
  return h("p", { class: "ackline" }, h("span", { "aria-hidden": "true" }, "✔ "), `Acknowledged ${hhmmss(d.acknowledged_at)} ${how}`);
}

/** The "What reached the field" card: one entry per delivery, each with its attempts. */
export function deliveriesCard(detail, unitName) {
  const order = { dispatch: 0, notify: 1, stand_down: 2 };
  const list = [...detail.deliveries].sort((a, b) => order[a.purpose] - order[b.purpose] || a.id - b.id);
  const cards = list.map((d) =>
    h("li", { class: `delivery dv-${d.state}`, "data-delivery": d.id, "data-recipient": d.recipient },
      h("div", { class: "dhead" },
        h("strong", {}, unitName(d.recipient)),
        h("span", { class: "muted" }, ` ${PURPOSE[d.purpose] || d.purpose}${d.mode === "parallel" ? " · all channels at once" : ""}`),
        h("span", { class: `dstate ds-${d.state}`, "data-role": "delivery-state" }, label(DELIVERY_STATE, d.state)),
        SHOWN_OUTCOMES.has(d.outcome) ? h("span", { class: "outcome" }, d.outcome === "exhausted" ? "every endpoint tried, not acknowledged" : "declined by the unit") : null),
      ackLine(d),
      d.attempts.length
        ? h("ol", { class: "attempts", "aria-label": `Attempts for ${d.recipient}` }, d.attempts.map((a) => attemptRow(a, d)))
        : h("p", { class: "muted" }, "No attempt yet."),
      h("p", { class: "plan muted small" }, "Contact plan: ", d.plan.map((e) => `${e.channel}:${e.address}`).join(" → "))));
  return h("section", { class: "card", "aria-labelledby": "deliveries-title" },
    h("h3", { id: "deliveries-title" }, "What reached the field"),
    cards.length ? h("ol", { class: "deliveries" }, cards) : h("p", { class: "muted" }, "Nothing sent yet."));
}
