// Hazards at the location ([[hazards]]): asked of the server (GET /api/v1/hazards?location=) as
// the location is typed or an incident is opened, and shown above the form until it changes.

import { enc } from "./api.js";
import { debounce, h, swap } from "./util.js";

export function createHazards(ctx, container) {
  let asked = null;
  let seq = 0;

  async function look(location) {
    const where = (location || "").trim();
    if (where === asked) return;
    asked = where;
    const mine = ++seq;
    if (!where) return swap(container());
    let found;
    try {
      found = await ctx.api.get(`/api/v1/hazards?location=${enc(where)}`);
    } catch {
      return; // the next change asks again
    }
    if (mine !== seq) return;
    const el = container();
    if (!el) return;
    swap(el, found.hazards.length
      ? h("section", { class: "card hazards", role: "alert", "aria-labelledby": "hazards-title" },
          h("h3", { id: "hazards-title" }, `⚠ Known hazards at this address (${found.hazards.length})`),
          h("ul", {}, found.hazards.map((z) => h("li", {}, h("strong", {}, z.kind), z.note ? ` — ${z.note}` : ""))),
          h("p", { class: "muted small" }, `The dispatch message starts with "${found.warning}"`))
      : null);
  }

  const lookSoon = debounce(look, 250);
  return { look, lookSoon, forget: () => { asked = null; } };
}
