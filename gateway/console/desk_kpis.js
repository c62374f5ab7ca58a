// The desk's KPIs (GET /api/v1/kpis `handling` and `first_contact`, defined in
// gateway/services/desk_kpis.py): average handling time and first-contact resolution per desk and
// overall as inline SVG bars, each with its trend over the period as a sparkline. No library, no
// network: every figure is also written as text.

import { h, s, span, when } from "./util.js";

const W = 900;
const LEFT = 100;
const BAR_W = 380;
const ROW = 34;
const SPARK_W = 260;
const SPARK_H = 36;

function pct(rate) {
  return rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)}%`;
}

/** Rows of bars: `rows` [{name, value, text, cls}], `top` the value of a full bar. */
function bars(label, rows, top, key) {
  const height = rows.length * ROW + 12;
  return s("svg", { viewBox: `0 0 ${W} ${height}`, width: W, height, role: "img", "aria-label": label, "data-chart": key },
    rows.map((r, i) => {
      const y = 6 + i * ROW;
      const w = r.value === null ? 0 : Math.max(2, (r.value / top) * BAR_W);
      return s("g", { "data-row": r.name },
        s("text", { x: 4, y: y + 19, class: "axis" }, r.name),
        s("rect", { x: LEFT, y: y + 6, width: BAR_W, height: 18, class: "track" }),
        r.value === null ? null : s("rect", { x: LEFT, y: y + 6, width: w, height: 18, class: `bar ${r.cls}` }, s("title", {}, r.text)),
        s("text", { x: LEFT + BAR_W + 10, y: y + 19, class: "value" }, r.text));
    }));
}

/** A sparkline of `points` (null: no data, a gap), scaled to `top`. */
function sparkline(label, points, top, key) {
  const n = points.length;
  const x = (i) => (n <= 1 ? SPARK_W / 2 : 2 + (i / (n - 1)) * (SPARK_W - 4));
  const y = (v) => SPARK_H - 3 - (v / (top || 1)) * (SPARK_H - 6);
  const runs = [];
  let run = [];
  points.forEach((v, i) => {
    if (v === null) {
      if (run.length) runs.push(run);
      run = [];
    } else run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  });
  if (run.length) runs.push(run);
  return s("svg", { viewBox: `0 0 ${SPARK_W} ${SPARK_H}`, width: SPARK_W, height: SPARK_H, role: "img", "aria-label": label, class: "spark", "data-chart": key },
    s("line", { x1: 0, x2: SPARK_W, y1: SPARK_H - 3, y2: SPARK_H - 3, class: "spark-base" }),
    runs.map((r) => (r.length === 1
      ? s("circle", { cx: r[0].split(",")[0], cy: r[0].split(",")[1], r: 2, class: "spark-dot" })
      : s("polyline", { points: r.join(" "), class: "spark-line" }))));
}

function trendText(trend, fmt) {
  const shown = trend.filter((p) => p.value !== null);
  if (!shown.length) return "no data in the period";
  const last = shown[shown.length - 1];
  return `${shown.length} of ${trend.length} slices with data; latest from ${when(last.start)}: ${fmt(last.value)}`;
}

function handlingChart(handling) {
  const desks = Object.entries(handling.desks);
  const rows = [
    { name: "All desks", value: handling.overall.average_seconds, cls: "seg-wait", text: handling.overall.calls ? `${span(handling.overall.average_seconds)} average · ${handling.overall.calls} call${handling.overall.calls === 1 ? "" : "s"}` : "no call ended in the period" },
    ...desks.map(([name, v]) => ({ name, value: v.average_seconds, cls: "seg-accepted", text: `${span(v.average_seconds)} average · ${v.calls} call${v.calls === 1 ? "" : "s"}` })),
  ];
  const top = Math.max(1, ...rows.map((r) => r.value || 0)) * 1.1;
  const trend = handling.trend.map((p) => ({ start: p.start, value: p.average_seconds }));
  return h("figure", { class: "chart", id: "kpi-handling" },
    h("figcaption", {}, h("strong", {}, "Average handling time"),
      h("span", { class: "muted" }, " · answer to hang-up of every call that ended in the period, repeat calls included; per desk that answered")),
    bars("Average handling time per desk", rows, top, "handling"),
    h("div", { class: "spark-row" },
      sparkline("Average handling time over the period", trend.map((p) => p.value), Math.max(1, ...trend.map((p) => p.value || 0)), "handling-trend"),
      h("span", { class: "muted" }, `Trend: ${trendText(trend, span)}`)));
}

function fcrText(v) {
  const decided = v.resolved + v.dispatched + v.repeat;
  if (!v.contacts) return "no call contact in the period";
  const bits = [`${pct(v.rate)} · ${v.resolved}/${decided} resolved on the first call`];
  if (v.dispatched) bits.push(`${v.dispatched} dispatched`);
  if (v.repeat) bits.push(`${v.repeat} repeat`);
  if (v.open) bits.push(`${v.open} open`);
  if (v.provisional) bits.push(`${v.provisional} provisional`);
  return bits.join(" · ");
}

function fcrChart(fcr) {
  const rows = [
    { name: "All desks", value: fcr.overall.rate, cls: "seg-ok", text: fcrText(fcr.overall) },
    ...Object.entries(fcr.desks).map(([name, v]) => ({ name, value: v.rate, cls: "seg-ok", text: fcrText(v) })),
  ];
  const trend = fcr.trend.map((p) => ({ start: p.start, value: p.rate }));
  return h("figure", { class: "chart", id: "kpi-fcr" },
    h("figcaption", {}, h("strong", {}, "First-contact resolution"),
      h("span", { class: "muted" }, ` · resolved at the desk without a dispatch, and no repeat call from the number nor merged duplicate within ${span(fcr.window_seconds)}; provisional until that window has passed, open ones not counted`)),
    bars("First-contact resolution per desk", rows, 1, "fcr"),
    h("div", { class: "spark-row" },
      sparkline("First-contact resolution over the period", trend.map((p) => p.value), 1, "fcr-trend"),
      h("span", { class: "muted" }, `Trend: ${trendText(trend, pct)}`)));
}

/** The desk's section of the KPI view. */
export function deskCharts(data) {
  if (!data.handling || !data.first_contact) return null;
  return h("section", { class: "card", "aria-label": "The desk" }, handlingChart(data.handling), fcrChart(data.first_contact));
}
