// The post-incident review of a closed incident, as the API builds it, with Markdown and JSON export.

import { ApiError, enc } from "./api.js";
import { download, h, hhmmss, label, priorityBadge, span, stateBadge, swap, when } from "./util.js";

const MILESTONES = [
  ["dispatch", "Dispatched"],
  ["acknowledge", "Acknowledged"],
  ["on_scene", "On scene"],
  ["resolve", "Resolved"],
];

export function createReview(ctx) {
  const view = document.getElementById("view-review");
  let ref = null;
  let review = null;
  let closed = [];
  let error = "";

  async function refresh() {
    try {
      closed = await ctx.api.get("/api/v1/incidents?state=closed&limit=50");
      closed.sort((a, b) => Date.parse(b.closed_at) - Date.parse(a.closed_at));
      error = "";
    } catch (err) {
      error = `Could not load closed incidents: ${err.message}`;
    }
    if (ref) {
      try {
        review = await ctx.api.get(`/api/v1/incidents/${enc(ref)}/review`);
      } catch (err) {
        review = null;
        error = `Could not load the review of ${ref}: ${err instanceof ApiError ? err.describe() : err.message}`;
      }
    }
    render();
  }

  async function show(reference) {
    ref = reference;
    review = null;
    await refresh();
    view.querySelector("#review-title")?.focus();
  }

  async function exportMarkdown() {
    try {
      download(`${ref}-review.md`, await ctx.api.text(`/api/v1/incidents/${enc(ref)}/review?format=markdown`), "text/markdown");
    } catch (err) {
      error = `Export failed: ${err.message}`;
      render();
    }
  }

  function exportJson() {
    download(`${ref}-review.json`, `${JSON.stringify(review, null, 2)}\n`, "application/json");
  }

  function body() {
    if (!review) return h("p", { class: "muted" }, ref ? "Loading…" : "Choose a closed incident.");
    const i = review.incident;
    const t = review.times;
    const met = t.response_target_met;
    return h("article", { class: "review", "aria-labelledby": "review-title" },
      h("div", { class: "inc-head" },
        h("h2", { id: "review-title", tabindex: "-1" }, `Review: ${i.reference}`),
        priorityBadge(i.priority), stateBadge(i.state),
        h("div", { class: "actions" },
          h("button", { type: "button", class: "primary", "data-key": "export-md", onclick: exportMarkdown }, "Export Markdown"),
          h("button", { type: "button", "data-key": "export-json", onclick: exportJson }, "Export JSON"))),
      h("section", { class: "card" },
        h("dl", { class: "facts" },
          h("dt", {}, "Nature"), h("dd", {}, i.nature || "—"),
          h("dt", {}, "Location"), h("dd", {}, i.location || "—"),
          h("dt", {}, "Category"), h("dd", {}, `${i.category || "—"} (${label({}, i.classification)})`),
          h("dt", {}, "Source"), h("dd", {}, `${i.source}; caller ${i.caller_number || "—"}`),
          h("dt", {}, "Opened / closed"), h("dd", {}, `${when(i.created_at)} / ${when(i.closed_at)}`),
          h("dt", {}, "Escalation level"), h("dd", {}, String(i.escalation_level)),
          i.merged_into ? [h("dt", {}, "Merged into"), h("dd", {}, `${i.merged_into} (closed as a duplicate)`)] : null)),
      (review.merged || []).length
        ? h("section", { class: "card merged" },
          h("h3", {}, `Merged duplicates (${review.merged.length})`),
          h("ul", {}, review.merged.map((m) => h("li", {},
            h("span", { class: "mono" }, m.reference),
            ` · call ${m.call_id || "—"} from ${m.caller_number || "—"} · opened ${when(m.created_at)} · merged ${when(m.merged_at)}`,
            h("details", {}, h("summary", {}, `Its timeline (${m.timeline.length} events)`),
              h("ol", { class: "audit" }, m.timeline.map((e) => h("li", {}, h("span", { class: "mono" }, hhmmss(e.at)), " ", h("code", {}, e.kind), ` ${e.actor}`))))))))
        : null,
      h("section", { class: "card" },
        h("h3", {}, "Response times"),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Milestone"), h("th", { scope: "col" }, "From creation"), h("th", { scope: "col" }, "At"))),
          h("tbody", {}, MILESTONES.map(([k, text]) => h("tr", {}, h("th", { scope: "row" }, text), h("td", {}, span(t[k].seconds)), h("td", {}, hhmmss(t[k].at)))))),
        h("p", { class: met === false ? "missed" : "" }, `Response target (on scene): ${span(t.response_target_seconds)}, `,
          h("strong", {}, met === null ? "not reached" : met ? "met" : "missed"), ".")),
      h("section", { class: "card" },
        h("h3", {}, "Deliveries"),
        h("table", {}, h("thead", {}, h("tr", {}, ["Recipient", "Purpose", "State", "Channels tried"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, review.deliveries.map((d) => h("tr", {}, h("td", {}, d.recipient), h("td", {}, label({}, d.purpose)), h("td", {}, label({}, d.state)), h("td", {}, d.channels_tried.join(" → ") || "—"))))),
        h("h3", {}, "Fallbacks"),
        review.fallbacks.length
          ? h("ul", {}, review.fallbacks.map((f) => h("li", {}, `delivery ${f.delivery}: left ${f.channel} (${label({}, f.reason)}${f.error ? `: ${f.error}` : ""})`)))
          : h("p", { class: "muted" }, "None.")),
      h("section", { class: "card" },
        h("h3", {}, "Lessons learned"),
        h("p", { class: "lessons" }, review.lessons || "None recorded.")),
      h("section", { class: "card" },
        h("details", {}, h("summary", {}, `Timeline (${review.timeline.length} events)`),
          h("ol", { class: "audit" }, review.timeline.map((e) => h("li", {}, h("span", { class: "mono" }, hhmmss(e.at)), " ", h("code", {}, e.kind), ` ${e.actor}`))))));
  }

  function render() {
    const options = closed.map((i) => h("option", { value: i.reference, selected: i.reference === ref }, `${i.reference} · ${i.priority || "—"} · ${i.nature || ""}`));
    swap(
      view,
      h("div", { class: "review-view" },
        h("div", { class: "kpi-head" },
          h("label", { for: "review-pick" }, "Closed incident "),
          h("select", { id: "review-pick", "data-key": "review-pick", onchange: (e) => e.target.value && show(e.target.value) },
            h("option", { value: "" }, closed.length ? "Choose…" : "None closed yet"), options)),
        error ? h("p", { class: "flash flash-error", role: "alert" }, error) : null,
        body()),
    );
  }

  /** A newly closed incident: add it to the picker without re-rendering what is being read. */
  async function refreshList() {
    try {
      closed = await ctx.api.get("/api/v1/incidents?state=closed&limit=50");
      closed.sort((a, b) => Date.parse(b.closed_at) - Date.parse(a.closed_at));
    } catch {
      return;
    }
    const pick = view.querySelector("#review-pick");
    if (!pick) return render();
    const options = closed.map((i) => h("option", { value: i.reference, selected: i.reference === ref }, `${i.reference} · ${i.priority || "—"} · ${i.nature || ""}`));
    swap(pick, h("option", { value: "" }, closed.length ? "Choose…" : "None closed yet"), options);
  }

  return { refresh, refreshList, show, focus: () => (view.querySelector("#review-title") || view.querySelector("#review-pick"))?.focus() };
}
