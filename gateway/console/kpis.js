// KPIs: time to dispatch, acknowledge and be on scene per priority against targets, and delivery
// success and fallbacks per channel; the desk's handling time and first-contact resolution
// (desk_kpis.js); the callers' satisfaction survey (satisfaction.js). Inline SVG bar charts with every value also written as text.

import { ApiError } from "./api.js";
import { deskCharts } from "./desk_kpis.js";
import { satisfactionBlock } from "./satisfaction.js";
import { h, PRIORITY, s, span, swap, when } from "./util.js";

const METRICS = [
  { key: "to_dispatch", title: "Creation → dispatch", note: "no configured target" },
  { key: "to_acknowledge", title: "Dispatch → acknowledgement", note: "target: the priority's ack deadline" },
  { key: "to_on_scene", title: "Creation → on scene", note: "target: the priority's response target" },
];
const PERIODS = [
  [8, "Last 8 hours"],
  [24, "Last 24 hours"],
  [168, "Last 7 days"],
  [720, "Last 30 days"],
];
const W = 900;
const LEFT = 100;
const BAR_W = 380;
const ROW = 34;

function metricChart(metric, priorities) {
  const rows = Object.entries(priorities).map(([p, v]) => ({ p, ...v[metric.key] }));
  const top = Math.max(1, ...rows.flatMap((r) => [r.p90 || 0, r.median || 0, r.target || 0])) * 1.1;
  const x = (v) => LEFT + (v / top) * BAR_W;
  const height = rows.length * ROW + 12;
  const svg = s("svg", { viewBox: `0 0 ${W} ${height}`, width: W, height, role: "img", "aria-label": `${metric.title} per priority` },
    rows.map((r, i) => {
      const y = 6 + i * ROW;
      const parts = [s("text", { x: 4, y: y + 19, class: "axis" }, PRIORITY[r.p])];
      parts.push(s("rect", { x: LEFT, y: y + 6, width: BAR_W, height: 18, class: "track" }));
      if (r.count) {
        parts.push(s("rect", { x: LEFT, y: y + 6, width: Math.max(2, x(r.median) - LEFT), height: 18, class: `bar prio-fill-${r.p}` }, s("title", {}, `median ${span(r.median)}`)));
        parts.push(s("line", { x1: x(r.median), x2: x(r.p90), y1: y + 15, y2: y + 15, class: "whisker" }));
        parts.push(s("line", { x1: x(r.p90), x2: x(r.p90), y1: y + 9, y2: y + 21, class: "whisker" }));
      }
      if (r.target) {
        parts.push(s("line", { x1: x(r.target), x2: x(r.target), y1: y + 2, y2: y + 28, class: "target" }, s("title", {}, `target ${span(r.target)}`)));
      }
      const text = r.count
        ? `median ${span(r.median)} · p90 ${span(r.p90)} · n ${r.count}${r.target ? ` · ${r.met}/${r.count} within ${span(r.target)}` : ""}`
        : `no data${r.target ? ` · target ${span(r.target)}` : ""}`;
      parts.push(s("text", { x: LEFT + BAR_W + 10, y: y + 19, class: r.count && r.missed ? "value missed" : "value" }, text));
      return s("g", {}, parts);
    }));
  return h("figure", { class: "chart" },
    h("figcaption", {}, h("strong", {}, metric.title), h("span", { class: "muted" }, ` · bar: median, whisker: 90th percentile, dashed line: target (${metric.note})`)),
    svg);
}

function channelChart(channels) {
  const names = Object.keys(channels);
  if (!names.length) return h("p", { class: "muted" }, "No message was sent in this period.");
  const height = names.length * ROW + 12;
  const svg = s("svg", { viewBox: `0 0 ${W} ${height}`, width: W, height, role: "img", "aria-label": "Delivery per channel" },
    names.map((name, i) => {
      const c = channels[name];
      const y = 6 + i * ROW;
      const total = Math.max(1, c.attempts);
      let at = LEFT;
      const seg = (n, cls, what) => {
        if (!n) return null;
        const w = (n / total) * BAR_W;
        const r = s("rect", { x: at, y: y + 6, width: w, height: 18, class: cls }, s("title", {}, `${n} ${what}`));
        at += w;
        return r;
      };
      const rate = c.success_rate === null ? "—" : `${Math.round(c.success_rate * 100)}%`;
      const reasons = Object.entries(c.fallback_reasons).map(([k, v]) => `${k.replaceAll("_", " ")} ${v}`).join(", ");
      return s("g", {},
        s("text", { x: 4, y: y + 19, class: "axis" }, name),
        s("rect", { x: LEFT, y: y + 6, width: BAR_W, height: 18, class: "track" }),
        seg(c.acknowledged, "seg-ok", "acknowledged by the unit"),
        seg(c.accepted - c.acknowledged, "seg-accepted", "accepted by the channel, no acknowledgement on it"),
        seg(c.failed, "seg-fail", "failed"),
        seg(c.in_flight, "seg-wait", "in flight"),
        seg(c.cancelled, "seg-cancel", "cancelled"),
        s("text", { x: LEFT + BAR_W + 10, y: y + 19, class: "value" },
          `${rate} accepted · ${c.acknowledged} acknowledged · ${c.attempts} attempts · ${c.fallbacks} fallback${c.fallbacks === 1 ? "" : "s"}${reasons ? ` (${reasons})` : ""}`));
    }));
  return h("figure", { class: "chart" },
    h("figcaption", {}, h("strong", {}, "Delivery per channel"),
      h("span", { class: "muted" }, " · dark green: acknowledged on this channel; light green: accepted by the channel (sent or delivered) with no acknowledgement on it; red: failed; blue: in flight; grey: cancelled. A fallback is an attempt left for the next endpoint.")),
    svg);
}

function table(data) {
  const rows = Object.entries(data.priorities).flatMap(([p, v]) =>
    METRICS.map((m) => {
      const x = v[m.key];
      return h("tr", {}, h("th", { scope: "row" }, p), h("td", {}, m.title), h("td", {}, x.count), h("td", {}, span(x.median)), h("td", {}, span(x.p90)),
        h("td", {}, x.target ? span(x.target) : "—"), h("td", {}, x.target ? `${x.met}/${x.count}` : "—"));
    }));
  return h("details", { class: "kpi-table" }, h("summary", {}, "The same figures as a table"),
    h("table", {}, h("thead", {}, h("tr", {}, ["Priority", "Measure", "n", "Median", "p90", "Target", "Within"].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, rows)));
}

export function createKpis(ctx) {
  const view = document.getElementById("view-kpis");
  let hours = 24;

  async function refresh() {
    try {
      const data = await ctx.api.get(`/api/v1/kpis?hours=${hours}`);
      ctx.targets = data.targets;
      render(data);
    } catch (err) {
      swap(view, h("p", { class: "flash flash-error" }, `Could not load KPIs: ${err instanceof ApiError ? err.describe() : err.message}`));
    }
  }

  /** Targets only (the queue's ack-deadline cues need them at sign-in). */
  async function loadTargets() {
    const data = await ctx.api.get("/api/v1/kpis?hours=1");
    ctx.targets = data.targets;
  }

  function render(data) {
    const picker = h("select", { id: "kpi-period", "data-key": "kpi-period", onchange: (e) => { hours = Number(e.target.value); refresh(); } },
      PERIODS.map(([v, text]) => h("option", { value: v, selected: v === hours }, text)));
    swap(
      view,
      h("div", { class: "kpis" },
        h("div", { class: "kpi-head" },
          h("h2", { id: "kpis-title", tabindex: "-1" }, "KPIs"),
          h("label", { for: "kpi-period" }, "Period "), picker,
          h("span", { class: "muted" }, `${data.incidents} incident${data.incidents === 1 ? "" : "s"} created since ${when(data.window.since)}`)),
        deskCharts(data),
        satisfactionBlock(data),
        h("section", { class: "card" }, METRICS.map((m) => metricChart(m, data.priorities))),
        h("section", { class: "card" }, channelChart(data.channels)),
        table(data)),
    );
  }

  return { refresh, loadTargets, focus: () => view.querySelector("#kpis-title")?.focus() };
}
