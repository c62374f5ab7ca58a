// The board's "On call" card (GET /api/v1/schedules, gateway/api/schedules.py): per schedule, who
// is on call now and until when, and who is next from when, in the desk's local time; a shift
// held by an override or the holiday member says so. No schedule configured: no card, as the
// Nodes card on a single node.

import { h, when } from "./util.js";

const COVER = { override: "override", holiday: "holiday cover" };

/** "Ann (override) until today 08:00", or "nobody" for an intended gap. */
function shift(s, edge) {
  if (!s) return h("span", { class: "muted" }, "no one scheduled");
  const who = s.member ? h("strong", {}, s.name || s.member) : h("strong", { class: "oncall-gap" }, "nobody");
  const cover = COVER[s.cover] ? h("span", { class: "chip health-degraded oncall-cover", "data-cover": s.cover }, COVER[s.cover]) : null;
  const at = edge === "until" ? `until ${when(s.until)}` : `from ${when(s.from)}`;
  return h("span", { class: "oncall-shift" }, who, cover ? " " : null, cover, h("span", { class: "muted" }, ` ${at}`));
}

/** The card, or null when no schedule is configured (or the list could not be read). */
export function onCallCard(schedules) {
  if (!schedules || !schedules.length) return null;
  return h("section", { class: "card", "aria-labelledby": "oncall-title" },
    h("h2", { id: "oncall-title" }, "On call"),
    h("ul", { class: "channels oncall" },
      schedules.map((sc) => h("li", { class: `channel health-${sc.now && sc.now.member ? "up" : "down"}`, "data-schedule": sc.id },
        h("span", { class: "dot", "aria-hidden": "true" }),
        h("strong", {}, sc.name), h("span", { class: "muted small" }, ` ${sc.rotation}, ${sc.time_zone}`),
        h("span", { class: "oncall-now", "data-when": "now" }, "Now: ", shift(sc.now, "until")),
        h("span", { class: "oncall-next", "data-when": "next" }, "Next: ", shift(sc.next, "from"))))));
}
