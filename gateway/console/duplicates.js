// Duplicates and merges. The possible-duplicate hint: open incidents of the same category at the
// same place within the window (GET /api/v1/incidents/{ref}/duplicates), a hint only; next to
// each, the merge (POST /api/v1/incidents/{ref}/merge): the later incident into the earlier,
// the button naming both, confirmed first. A merged incident says where it went; the one that
// survives lists what was merged into it, each with its call, caller and timeline.

import { ApiError, enc } from "./api.js";
import { h, hhmmss, ms, swap } from "./util.js";

const ENDED = ["closed", "cancelled", "resolved"];

export function createDuplicates(ctx, container, { say = () => {}, canWrite = () => false } = {}) {
  let seq = 0;

  function mergedInto(detail) {
    return h("section", { class: "card dupes merged-into", "aria-labelledby": "merged-into-title" },
      h("h3", { id: "merged-into-title" }, `Closed as a duplicate: merged into ${detail.merged_into}`),
      h("p", {}, "Its call, caller and timeline are kept here and shown on ",
        h("button", { type: "button", class: "link mono", "data-key": "merged-into", onclick: () => ctx.openIncident(detail.merged_into) }, detail.merged_into), "."));
  }

  function heldCard(detail) {
    return h("section", { class: "card merged", "aria-labelledby": "merged-title" },
      h("h3", { id: "merged-title" }, `Merged into ${detail.reference} (${detail.merged.length})`),
      h("ul", {}, detail.merged.map((m) => h("li", { "data-merged": m.reference },
        h("button", { type: "button", class: "link mono", "data-key": `merged-${m.reference}`, onclick: () => ctx.openIncident(m.reference) }, m.reference),
        ` · caller ${m.caller_number || "unknown"}${m.caller_name ? ` (${m.caller_name})` : ""}`,
        m.call_id ? ` · call ${m.call_id}` : " · typed at the desk",
        m.desk ? ` · desk ${m.desk}` : "",
        m.call_answered_at ? ` · answered ${hhmmss(m.call_answered_at)}` : "",
        h("details", {},
          h("summary", {}, `Its timeline (${m.timeline.length} event${m.timeline.length === 1 ? "" : "s"})`),
          h("ol", { class: "audit" }, m.timeline.map((e) =>
            h("li", {}, h("span", { class: "mono" }, hhmmss(e.at)), " ", h("code", {}, e.kind), ` ${e.actor}`))))))));
  }

  /** The later of the two is the duplicate: it goes into the one that was reported first. */
  function pair(detail, other) {
    const later = ms(other.created_at) > ms(detail.created_at)
      || (ms(other.created_at) === ms(detail.created_at) && other.reference > detail.reference);
    return later ? { from: other.reference, into: detail.reference } : { from: detail.reference, into: other.reference };
  }

  async function merge(from, into) {
    const note = await ctx.confirm({
      title: `Merge ${from} into ${into}?`,
      text: `${from} is closed as a duplicate of ${into}. Its call, caller and timeline are kept and shown on ${into}. Units sent to ${from} are moved to ${into}, or stood down from ${from} if ${into} already has them; nothing more goes out for ${from}.`,
      ok: `Merge ${from} into ${into}`,
      note: "Note (optional)",
    });
    if (note === false) return;
    try {
      const done = await ctx.api.post(`/api/v1/incidents/${enc(from)}/merge`, { into, note: note || "" });
      const told = [
        done.moved.length ? `moved ${done.moved.join(", ")} to ${into}` : "",
        done.stood_down.length ? `stood down ${done.stood_down.join(", ")} from ${from}` : "",
      ].filter(Boolean).join("; ");
      ctx.queue.refresh();
      await ctx.openIncident(into);
      say(`${from} merged into ${into}${told ? `: ${told}` : ""}.`);
    } catch (err) {
      say(`Could not merge ${from} into ${into}: ${err instanceof ApiError ? err.describe() : err.message}`, "error");
    }
  }

  function hint(detail, found) {
    if (!found.length) return null;
    const may = canWrite();
    return h("section", { class: "card dupes", "aria-labelledby": "dupes-title" },
      h("h3", { id: "dupes-title" }, `Possibly the same event as ${found.length === 1 ? "another open incident" : `${found.length} open incidents`}`),
      h("ul", {}, found.map((d) => {
        const { from, into } = pair(detail, d);
        return h("li", {},
          h("button", { type: "button", class: "link mono", "data-key": `dupe-${d.reference}`, onclick: () => ctx.openIncident(d.reference) }, d.reference),
          ` · ${d.reason} `,
          may ? h("button", { type: "button", class: "merge", "data-key": `merge-${d.reference}`, "data-from": from, "data-into": into, onclick: () => merge(from, into) }, `Merge ${from} into ${into}`) : null);
      })));
  }

  async function look(detail) {
    const mine = ++seq;
    const el = container();
    if (!el) return;
    if (!detail) return swap(el);
    const held = detail.merged && detail.merged.length ? heldCard(detail) : null;
    if (detail.merged_into) return swap(el, mergedInto(detail));
    if (!detail.category || !detail.location || ENDED.includes(detail.state)) return swap(el, held);
    let found;
    try {
      found = await ctx.api.get(`/api/v1/incidents/${enc(detail.reference)}/duplicates`);
    } catch {
      return;
    }
    if (mine !== seq || container() !== el) return;
    swap(el, hint(detail, found.duplicates), held);
  }

  return { look };
}
