// The resource board: every unit with its status, time in status, last contact and last position
// (coordinates, how old, which channel; "stale" once the recommendation stops counting it), and every
// channel's health with the reason it gives; with several nodes, each node, its last heartbeat,
// the channels it hosts and the leases it holds (GET /api/v1/cluster); who is on call now and next
// per schedule (oncall.js). Also the compact channel strip in the top bar.

import { ApiError, enc } from "./api.js";
import { onCallCard } from "./oncall.js";
import { h, label, swap, UNIT_STATUS } from "./util.js";

const HEALTH = { up: "Up", degraded: "Degraded", down: "Down" };

export function createBoard(ctx) {
  const view = document.getElementById("view-board");
  const strip = document.getElementById("channel-strip");
  const summary = document.getElementById("channel-summary");
  let message = "";

  async function refreshUnits() {
    ctx.resources = await ctx.api.get("/api/v1/resources");
    ctx.resourcesById = new Map(ctx.resources.map((r) => [r.id, r]));
  }

  async function refreshChannels() {
    const [channels, cluster, schedules] = await Promise.all([
      ctx.api.get("/api/v1/channels"),
      ctx.api.get("/api/v1/cluster").catch(() => null),
      ctx.api.get("/api/v1/schedules").catch(() => null),
    ]);
    ctx.channels = channels;
    ctx.cluster = cluster;
    ctx.schedules = schedules;
  }

  async function refresh() {
    await Promise.all([refreshUnits(), refreshChannels()]);
    render();
  }

  async function setStatus(id, status) {
    try {
      await ctx.api.post(`/api/v1/resources/${enc(id)}/status`, { status });
      message = `${id} set to ${label(UNIT_STATUS, status)}.`;
    } catch (err) {
      message = `Could not set ${id}: ${err instanceof ApiError ? err.describe() : err.message}`;
    }
    await refresh();
  }

  /** The unit's last fix: "51.5072, -0.1276 · 40 s ago · aprs", marked stale when it is. */
  function positionCell(p, now = Date.now()) {
    if (!p) return h("td", { class: "small muted", "data-position": "none" }, "no position");
    const stale = p.stale_at && Date.parse(p.stale_at) <= now;
    return h("td", { class: `small position${stale ? " position-stale" : ""}`, "data-position": stale ? "stale" : "fresh" },
      h("span", { class: "mono" }, `${p.lat.toFixed(4)}, ${p.lon.toFixed(4)}`), " · ",
      h("span", { "data-ago": p.observed_at }, ""), ` · ${p.source}`,
      stale ? h("span", { class: "chip health-degraded" }, " stale") : null);
  }

  function statusControl(r) {
    if (!ctx.can("unit.status")) return h("span", { class: `unit-status us-${r.status}` }, label(UNIT_STATUS, r.status));
    return h(
      "select",
      {
        "aria-label": `Status of ${r.id}`,
        "data-key": `status-${r.id}`,
        class: `unit-status us-${r.status}`,
        onchange: (e) => setStatus(r.id, e.target.value),
      },
      Object.entries(UNIT_STATUS).map(([value, text]) => h("option", { value, selected: value === r.status }, text)),
    );
  }

  /** The header's summary: "8 up · 1 down", coloured by the worst state, with the detail inside. */
  function renderSummary() {
    const channels = ctx.channels || [];
    const counts = { up: 0, degraded: 0, down: 0 };
    for (const c of channels) counts[c.health.state] = (counts[c.health.state] || 0) + 1;
    const parts = ["up", "degraded", "down"].filter((k) => counts[k]).map((k) => `${counts[k]} ${k}`);
    const worst = counts.down ? "down" : counts.degraded ? "degraded" : "up";
    summary.className = `chip health-${worst}`;
    swap(summary, h("span", { class: "dot", "aria-hidden": "true" }),
      channels.length ? [h("span", { class: "summary-label" }, "Channels: "), parts.join(" · ")] : "No channels");
    summary.setAttribute("aria-label", `Channel health: ${parts.join(", ") || "no channels"}`);
  }

  function renderStrip() {
    renderSummary();
    swap(
      strip,
      (ctx.channels || []).map((c) =>
        h("span", { class: `chip health-${c.health.state}`, title: c.health.reason || "" },
          h("span", { class: "dot", "aria-hidden": "true" }), `${c.name} ${HEALTH[c.health.state] || c.health.state}`,
          c.health.reason && c.health.state !== "up" ? h("span", { class: "muted" }, ` — ${c.health.reason}`) : null)),
      h("button", { type: "button", class: "link", onclick: () => { strip.closest("details").open = false; ctx.showView("board", { focus: true }); } },
        "All units and channels (2)"),
    );
  }

  function render() {
    renderStrip();
    const units = (ctx.resources || []).map((r) =>
      h("tr", { "data-unit": r.id, class: `unit-row us-row-${r.status}` },
        h("th", { scope: "row" }, h("span", { class: "mono" }, r.id), r.name && r.name !== r.id ? h("span", { class: "muted" }, ` ${r.name}`) : null),
        h("td", {}, statusControl(r)),
        h("td", { class: "mono", "data-since": r.status_since }),
        h("td", { "data-ago": r.last_contact_at || "" }, r.last_contact_at ? "" : "never"),
        positionCell(r.position),
        h("td", {}, r.current_incident ? h("button", { type: "button", class: "link mono", onclick: () => ctx.openIncident(r.current_incident) }, r.current_incident) : "—"),
        h("td", { class: "small" }, r.capabilities.join(", ") || "—"),
        h("td", { class: "small mono" }, r.contact_plan.map((e) => e.channel).join(" → "))));
    const channels = (ctx.channels || []).map((c) =>
      h("li", { class: `channel health-${c.health.state}` },
        h("span", { class: "dot", "aria-hidden": "true" }),
        h("strong", {}, c.name), h("span", { class: "muted" }, ` ${c.kind}`),
        h("span", { class: "health-text" }, HEALTH[c.health.state] || c.health.state),
        h("span", { class: "reason" }, c.health.reason ? `— ${c.health.reason}` : ""),
        h("span", { class: "muted small" }, ` · ${c.capabilities.two_way ? "two-way" : "one-way"}, ${c.capabilities.max_length} chars`)));
    const cluster = ctx.cluster && ctx.cluster.clustered ? ctx.cluster : null;
    const nodes = (cluster ? cluster.nodes : []).map((n) =>
      h("li", { class: `channel health-${n.alive ? "up" : "down"}`, "data-node": n.name },
        h("span", { class: "dot", "aria-hidden": "true" }),
        h("strong", {}, n.name), n.name === cluster.self ? h("span", { class: "muted" }, " (this node)") : null,
        h("span", { class: "health-text" }, n.alive ? "Up" : "Silent"),
        h("span", { class: "reason" }, `— heartbeat ${n.heartbeat_age.toFixed(1)} s ago`),
        h("span", { class: "muted small" },
          ` · hosts ${n.hosts.join(", ") || "nothing"}, ${n.leases} leases${n.name === cluster.timers ? ", runs the timers" : ""}`)));
    swap(
      view,
      h("div", { class: "board" },
        h("section", { class: "card", "aria-labelledby": "units-title" },
          h("h2", { id: "units-title", tabindex: "-1" }, "Units"),
          message ? h("p", { class: "flash flash-info", role: "status" }, message) : null,
          h("table", { class: "units" },
            h("thead", {}, h("tr", {}, ["Unit", "Status", "In status", "Last contact", "Position", "Incident", "Capabilities", "Contact plan"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, units))),
        h("section", { class: "card", "aria-labelledby": "channels-title" },
          h("h2", { id: "channels-title" }, "Channels"),
          h("ul", { class: "channels" }, channels)),
        cluster ? h("section", { class: "card", "aria-labelledby": "nodes-title" },
          h("h2", { id: "nodes-title" }, "Nodes"),
          h("ul", { class: "channels" }, nodes)) : null,
        onCallCard(ctx.schedules)),
    );
    ctx.tickClocks(view);
  }

  return {
    refresh,
    refreshUnits,
    refreshChannels,
    render,
    focus: () => view.querySelector("#units-title")?.focus(),
  };
}
