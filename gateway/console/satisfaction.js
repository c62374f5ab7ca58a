// The callers' satisfaction (GET /api/v1/kpis `satisfaction`, gateway/services/survey.py): over the
// surveys the network accepted in the period, the mean score out of 5, the response rate,
// responses / surveys, and how many gave each score 1-5 as inline SVG bars (every count also as
// text). No survey sent: a plain sentence saying so.

import { h, s } from "./util.js";

const W = 900;
const LEFT = 100;
const BAR_W = 380;
const ROW = 26;
const SCORES = ["1", "2", "3", "4", "5"];
const NAMES = { 1: "1 (not at all)", 5: "5 (very)" };

function scoreBars(scores, responses) {
  const top = Math.max(1, ...SCORES.map((k) => scores[k] || 0));
  const height = SCORES.length * ROW + 8;
  return s("svg", { viewBox: `0 0 ${W} ${height}`, width: W, height, role: "img", "aria-label": "Responses per score", "data-chart": "satisfaction" },
    SCORES.map((k, i) => {
      const n = scores[k] || 0;
      const y = 4 + i * ROW;
      const share = responses ? ` (${Math.round((n / responses) * 100)}%)` : "";
      const text = `${n} response${n === 1 ? "" : "s"}${share}`;
      return s("g", { "data-score": k },
        s("text", { x: 4, y: y + 16, class: "axis" }, NAMES[k] || k),
        s("rect", { x: LEFT, y: y + 4, width: BAR_W, height: 16, class: "track" }),
        s("rect", { x: LEFT, y: y + 4, width: n ? Math.max(2, (n / top) * BAR_W) : 0, height: 16, class: "bar seg-ok" }, s("title", {}, `score ${k}: ${text}`)),
        s("text", { x: LEFT + BAR_W + 10, y: y + 16, class: "value" }, text));
    }));
}

/** The "Caller satisfaction" block of the KPI view (null when the API has no such figures). */
export function satisfactionBlock(data) {
  const sat = data.satisfaction;
  if (!sat) return null;
  const head = h("figcaption", {}, h("strong", {}, "Caller satisfaction"),
    h("span", { class: "muted" }, " · the opt-in SMS survey after the incident, over the surveys the network accepted in the period; reply 1 (not at all) to 5 (very)"));
  if (!sat.surveys_sent) {
    return h("section", { class: "card", id: "kpi-satisfaction" },
      h("figure", { class: "chart" }, head, h("p", { class: "muted", "data-empty": "satisfaction" }, "No survey was sent in this period.")));
  }
  const mean = sat.mean_score === null ? "no reply yet" : `${sat.mean_score.toFixed(1)} / 5`;
  const rate = sat.response_rate === null ? "—" : `${Math.round(sat.response_rate * 100)}%`;
  return h("section", { class: "card", id: "kpi-satisfaction" },
    h("figure", { class: "chart" }, head,
      h("dl", { class: "sat-figures" },
        h("div", {}, h("dt", {}, "Mean score"), h("dd", { "data-figure": "mean" }, mean)),
        h("div", {}, h("dt", {}, "Response rate"), h("dd", { "data-figure": "rate" }, rate)),
        h("div", {}, h("dt", {}, "Responses / surveys"), h("dd", { "data-figure": "responses" }, `${sat.responses} / ${sat.surveys_sent}`))),
      scoreBars(sat.scores || {}, sat.responses)));
}
