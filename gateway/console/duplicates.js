// The possible-duplicate hint: open incidents of the same category at the same place within the
// window (GET /api/v1/incidents/{ref}/duplicates). A hint only: the dispatcher decides.

import { enc } from "./api.js";
import { h, swap } from "./util.js";

export function createDuplicates(ctx, container) {
  let seq = 0;

  async function look(detail) {
    const mine = ++seq;
    const el = container();
    if (!el || !detail || !detail.category || !detail.location || ["closed", "cancelled", "resolved"].includes(detail.state)) {
      if (el) swap(el);
      return;
    }
    let found;
    try {
      found = await ctx.api.get(`/api/v1/incidents/${enc(detail.reference)}/duplicates`);
    } catch {
      return;
    }
    if (mine !== seq || container() !== el) return;
    swap(el, found.duplicates.length
      ? h("section", { class: "card dupes", "aria-labelledby": "dupes-title" },
          h("h3", { id: "dupes-title" }, `Possibly the same event as ${found.duplicates.length === 1 ? "another open incident" : `${found.duplicates.length} open incidents`}`),
          h("ul", {}, found.duplicates.map((d) => h("li", {},
            h("button", { type: "button", class: "link mono", "data-key": `dupe-${d.reference}`, onclick: () => ctx.openIncident(d.reference) }, d.reference),
            ` · ${d.reason}`))))
      : null);
  }

  return { look };
}
