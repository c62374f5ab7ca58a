// The incident pane: screen-pop with the caller's history, the form, triage as the server sees it,
// dispatch with the recorded rationale, and per unit a live timeline of what reached the field.

import { ApiError, enc } from "./api.js";
import { responseClock } from "./clocks.js";
import { buildForm } from "./form.js";
import { createDuplicates } from "./duplicates.js";
import { createHazards } from "./hazards.js";
import { createPractice } from "./practice.js";
import { createSurvey } from "./survey.js";
import { deliveriesCard } from "./timeline.js";
import {
  debounce,
  h,
  hhmmss,
  label,
  PRIORITY,
  priorityBadge,
  span,
  stateBadge,
  swap,
  UNIT_STATUS,
  when,
} from "./util.js";

const DISPATCHABLE = new Set(["triaged", "dispatched", "acknowledged", "on_scene"]);
const RESOLVABLE = new Set(["triaged", "dispatched", "acknowledged", "on_scene"]);
const CANCELLABLE = new Set(["new", "triaged", "dispatched", "acknowledged"]);
const ENDED = new Set(["closed", "cancelled"]);
const NOT_DISPATCHABLE_UNIT = new Set(["unavailable", "out_of_service"]);

export function createIncidentPane(ctx) {
  const pane = document.getElementById("incident");
  let detail = null; // GET /incidents/{ref}, or null for a new incident
  let form = null;
  let formReadOnly = false;
  let popped = null; // {at, result} when this incident arrived as a call
  let history = null; // caller's recent incidents
  let historyFor = null;
  const chosen = new Set();
  let chosenFor = null;
  const parts = {};

  const practice = createPractice(ctx, {
    container: () => parts.practice,
    canWrite: () => canWrite() && Boolean(detail) && !ENDED.has(detail.state),
    say: (text, kind) => say(text, kind),
    reload: () => reload(),
  });
  const hazards = createHazards(ctx, () => parts.hazards);
  const duplicates = createDuplicates(ctx, () => parts.dupes, { say: (text, kind) => say(text, kind), canWrite });
  const survey = createSurvey(ctx, () => parts.survey, {
    canWrite: () => canWrite(),
    say: (text, kind) => say(text, kind),
    reload: () => reload().catch(() => {}),
  });
  const reloadSoon = debounce(() => reload().catch(() => {}), 150);

  function canWrite() {
    return ctx.can("incident.write");
  }

  function build(isNew) {
    const readOnly = !canWrite() || Boolean(detail && ENDED.has(detail.state));
    formReadOnly = readOnly;
    form = buildForm(detail, {
      readOnly,
      onChange: () => {
        renderTriage();
        practice.render(detail, form.values().category);
        hazards.lookSoon(form.values().location);
      },
      onSubmit: () => save(),
    });
    for (const key of ["pop", "header", "actions", "status", "caller", "survey", "dupes", "hazards", "practice", "triage", "dispatch", "deliveries", "audit"]) {
      parts[key] = h("div", { class: `part part-${key}` });
    }
    hazards.forget(); // a new, empty part: ask again
    parts.status.setAttribute("role", "status");
    parts.status.setAttribute("aria-live", "polite");
    const formSection = h(
      "section",
      { class: "card", "aria-labelledby": "form-title" },
      h("h3", { id: "form-title" }, isNew ? "New incident" : "Details"),
      form.el,
      readOnly ? null : h("div", { class: "form-actions" },
        h("button", { type: "button", class: "primary", "data-key": "save", onclick: () => save() },
          isNew ? "Create incident " : "Save ", h("kbd", {}, "Ctrl+S")),
        h("span", { class: "muted" }, "Fields marked * are needed for triage.")),
    );
    swap(
      pane,
      parts.pop,
      parts.header,
      parts.actions,
      parts.status,
      h("div", { class: "incident-cols" },
        h("div", { class: "col" }, parts.caller, parts.survey, parts.dupes, parts.hazards, parts.practice, formSection, parts.triage),
        h("div", { class: "col col-field" }, parts.dispatch, parts.deliveries, parts.audit)),
    );
  }

  function renderAll() {
    const sent = Boolean(detail && detail.deliveries.length);
    pane.querySelector(".col-field")?.classList.toggle("sent", sent);
    renderPop();
    renderHeader();
    renderActions();
    renderCaller();
    practice.render(detail, form ? form.values().category : null);
    hazards.look(form ? form.values().location : detail && detail.location);
    duplicates.look(detail);
    survey.look(detail);
    renderTriage();
    renderDispatch();
    renderDeliveries();
    renderAudit();
    ctx.tickClocks(pane);
  }

  function renderPop() {
    if (!popped || !detail) return swap(parts.pop);
    const what = popped.result === "linked" ? "Repeat call, linked to this open incident" : "Incoming call";
    swap(
      parts.pop,
      h("div", { class: "pop", role: "alert" },
        h("strong", {}, what),
        ` · answered ${hhmmss(popped.at)}`,
        detail.caller_number ? ` · ${detail.caller_number}` : "",
        detail.desk ? ` · desk ${detail.desk}` : ""),
    );
  }

  function renderHeader() {
    if (!detail) {
      swap(parts.header, h("div", { class: "inc-head" }, h("h2", { id: "incident-title" }, "New incident"),
        h("span", { class: "muted" }, "source: desk")));
      return;
    }
    swap(
      parts.header,
      h("div", { class: "inc-head" },
        h("h2", { id: "incident-title", tabindex: "-1" }, detail.reference),
        priorityBadge(detail.priority),
        stateBadge(detail.state),
        detail.classification ? h("span", { class: "badge plain" }, label({}, detail.classification)) : null,
        responseClock(detail),
        h("span", { class: "muted small" }, `opened ${hhmmss(detail.created_at)} · source ${detail.source}`)),
    );
  }

  function actionButton(text, key, handler, { kind = "", shortcut = "" } = {}) {
    return h("button", { type: "button", class: kind, "data-key": `act-${key}`, "aria-keyshortcuts": shortcut.toLowerCase() || null, onclick: handler },
      text, shortcut ? [" ", h("kbd", {}, shortcut)] : null);
  }

  function renderActions() {
    if (!detail) return swap(parts.actions);
    const s = detail.state;
    const ref = detail.reference;
    const buttons = [];
    const awaiting = detail.deliveries.some((d) => d.purpose === "dispatch" && !d.acknowledged_at && !["cancelled", "declined"].includes(d.outcome));
    if (canWrite() && ["dispatched", "acknowledged", "on_scene"].includes(s) && awaiting) {
      const text = s === "dispatched" ? `Acknowledge ${ref} at desk` : `Acknowledge the rest of ${ref} at desk`;
      buttons.push(actionButton(text, "ack", () => acknowledge(ref), { shortcut: "A" }));
    }
    if (canWrite() && RESOLVABLE.has(s)) buttons.push(actionButton(`Resolve ${ref}`, "resolve", () => resolve(ref), { shortcut: "R" }));
    if (ctx.can("incident.supervise") && CANCELLABLE.has(s)) buttons.push(actionButton(`Cancel ${ref}`, "cancel", () => cancel(ref), { kind: "quiet" }));
    if (ctx.can("incident.supervise") && ["resolved", "cancelled"].includes(s)) buttons.push(actionButton(`Close ${ref}`, "close", () => close(ref), { shortcut: "C" }));
    if (s === "closed") buttons.push(actionButton(`Open review of ${ref}`, "review", () => ctx.openReview(ref), { kind: "primary", shortcut: "V" }));
    if (!canWrite()) buttons.push(h("span", { class: "muted small" }, `Signed in as ${ctx.me.role}: read only.`));
    swap(parts.actions, buttons.length ? h("div", { class: "actions", role: "group", "aria-label": "Incident actions" }, buttons) : null);
  }

  function renderCaller() {
    if (!detail || !detail.caller_number) return swap(parts.caller);
    const items = (history || []).filter((i) => i.reference !== detail.reference);
    swap(
      parts.caller,
      h("section", { class: "card caller", "aria-labelledby": "caller-title" },
        h("h3", { id: "caller-title" }, "Caller"),
        h("p", { class: "caller-line" },
          h("strong", { class: "mono" }, detail.caller_number),
          detail.caller_name ? ` · ${detail.caller_name}` : "",
          detail.call_id ? h("span", { class: "muted" }, ` · call ${detail.call_id}`) : ""),
        h("h4", {}, "Recent incidents from this number"),
        !ctx.can("personal.read")
          ? h("p", { class: "muted", id: "caller-masked" }, "The number is masked for your role; dispatchers and supervisors see it whole.")
          : history === null
          ? h("p", { class: "muted" }, "Loading…")
          : items.length
            ? h("ul", { class: "history" }, items.map((i) => h("li", {},
                h("button", { type: "button", class: "link", "data-key": `hist-${i.reference}`, onclick: () => open(i.reference) }, i.reference),
                " ", stateBadge(i.state), " ", i.priority ? priorityBadge(i.priority) : null,
                ` ${i.nature || "(no details)"} · ${when(i.created_at)}`)))
            : h("p", { class: "muted" }, "No earlier incidents from this number.")),
    );
  }

  /** Classification and priority from the server's own rules (GET /api/v1/triage), as typed. */
  function liveTriage(v) {
    const t = ctx.triage;
    const impact = Number(v.impact), urgency = Number(v.urgency);
    if (!t || !v.category || !impact || !urgency) return null;
    const category = v.category.trim().toLowerCase();
    const rule = t.rules.find((r) => r.category.toLowerCase() === category);
    const priority = (t.matrix[impact - 1] || [])[urgency - 1];
    if (!priority) return null;
    const target = t.targets[priority];
    return { classification: rule ? rule.classification : t.default_classification, priority,
             target: target ? target.response_target_seconds : null };
  }

  function renderTriage() {
    if (!form) return;
    const pending = form.changedTriageInputs();
    const lines = [];
    if (detail && detail.priority) {
      lines.push(
        h("dl", { class: "facts" },
          h("dt", {}, "Classification"), h("dd", {}, label({}, detail.classification)),
          h("dt", {}, "Priority"), h("dd", {}, priorityBadge(detail.priority), ` impact ${detail.impact} × urgency ${detail.urgency}`),
          h("dt", {}, "Response target"), h("dd", {}, `${span(detail.response_target_seconds)} to on scene, due ${hhmmss(detail.response_due_at)}`)),
      );
    } else {
      lines.push(h("p", {}, "Not triaged yet: fill the five fields marked * and save; the server then classifies it, sets the priority and recommends units."));
    }
    const live = liveTriage(form.values());
    if (live && (pending.length || !(detail && detail.priority))) {
      lines.push(h("p", { class: "note", id: "live-triage" }, "As entered now: ", label({}, live.classification), " ",
        priorityBadge(live.priority), live.target ? `, ${span(live.target)} to on scene` : "",
        ". The server confirms it when you save."));
    } else if (pending.length) {
      lines.push(h("p", { class: "note" }, `You changed ${pending.join(", ")}; the values above are the last saved ones.`));
    }
    swap(parts.triage, h("section", { class: "card", "aria-labelledby": "triage-title" }, h("h3", { id: "triage-title" }, "Triage"), lines));
  }

  function unitName(id) {
    const r = ctx.resourcesById.get(id);
    return r && r.name && r.name !== id ? `${id} · ${r.name}` : id;
  }

  function unitStatus(id) {
    const r = ctx.resourcesById.get(id);
    return r ? r.status : null;
  }

  function renderDispatch() {
    if (!detail || !DISPATCHABLE.has(detail.state)) return swap(parts.dispatch);
    const already = new Set(
      detail.deliveries.filter((d) => d.purpose === "dispatch" && !["declined", "cancelled"].includes(d.outcome)).map((d) => d.recipient),
    );
    // A new recommendation (first triage, or a re-triage) is pre-chosen, unless units already went.
    const recKey = `${detail.reference}:${detail.recommendation.map((r) => r.resource_id).join(",")}`;
    if (chosenFor !== recKey) {
      chosen.clear();
      chosenFor = recKey;
      if (!already.size) for (const r of detail.recommendation) chosen.add(r.resource_id);
    }
    for (const id of [...chosen]) if (already.has(id)) chosen.delete(id);
    const write = canWrite();
    const recommended = new Set(detail.recommendation.map((r) => r.resource_id));
    const row = (id, extra) => {
      const status = unitStatus(id);
      const blocked = already.has(id) || NOT_DISPATCHABLE_UNIT.has(status);
      const note = already.has(id) ? "already dispatched" : label(UNIT_STATUS, status);
      const control = write
        ? h("input", {
            type: "checkbox",
            id: `pick-${id}`,
            "data-key": `pick-${id}`,
            checked: chosen.has(id) && !blocked,
            disabled: blocked,
            onchange: (e) => {
              if (e.target.checked) chosen.add(id);
              else chosen.delete(id);
              renderDispatchButton();
            },
          })
        : null;
      return h("li", { class: `unit-pick${blocked ? " blocked" : ""}${write ? "" : " no-control"}` },
        control,
        h("label", { for: write ? `pick-${id}` : null },
          h("strong", {}, unitName(id)), " ", h("span", { class: `unit-status us-${status}` }, note)),
        extra);
    };
    const recs = detail.recommendation.map((r) =>
      row(r.resource_id, h("p", { class: "rationale" }, h("span", { class: "muted" }, `score ${r.score.toFixed(2)} · `), r.rationale)));
    const others = ctx.resources.filter((r) => !recommended.has(r.id)).map((r) => row(r.id, null));
    parts.dispatchButton = h("div", { class: "dispatch-bar" });
    swap(
      parts.dispatch,
      h("section", { class: "card", "aria-labelledby": "dispatch-title" },
        h("h3", { id: "dispatch-title" }, "Dispatch"),
        detail.recommendation.length
          ? [h("h4", {}, "Recommended by triage"), h("ul", { class: "picks" }, recs)]
          : h("p", { class: "muted" }, detail.priority ? "Triage recommended no unit for this category." : "Save the required fields first: triage recommends units."),
        others.length ? h("details", { class: "others" }, h("summary", {}, `Other units (${others.length})`), h("ul", { class: "picks" }, others)) : null,
        write ? parts.dispatchButton : h("p", { class: "muted", id: "no-dispatch" }, `Your role (${ctx.me.role}) may see recommendations but cannot dispatch.`)),
    );
    if (write) renderDispatchButton();
  }

  function renderDispatchButton() {
    if (!parts.dispatchButton) return;
    const n = chosen.size;
    const ref = detail ? detail.reference : "";
    swap(
      parts.dispatchButton,
      h("button", { type: "button", class: "primary", id: "dispatch-button", "data-key": "dispatch", disabled: n === 0, "aria-keyshortcuts": "d", onclick: () => dispatch(ref) },
        n ? `Dispatch ${n} unit${n === 1 ? "" : "s"} to ${ref} ` : "Choose units to dispatch ", h("kbd", {}, "D")),
      n ? h("span", { class: "muted" }, [...chosen].join(", ")) : null,
    );
  }

  function renderDeliveries() {
    swap(parts.deliveries, detail ? deliveriesCard(detail, unitName) : null);
  }

  function auditSummary(e) {
    const d = e.data || {};
    const bits = ["resource", "recipient", "channel", "status", "priority", "note", "reason", "changed"]
      .filter((k) => d[k] !== undefined && d[k] !== null && d[k] !== "")
      .map((k) => `${k} ${Array.isArray(d[k]) ? d[k].join(", ") : d[k]}`);
    return bits.join(" · ");
  }

  function renderAudit() {
    if (!detail) return swap(parts.audit);
    const wasOpen = parts.audit.querySelector("details")?.open;
    swap(
      parts.audit,
      h("section", { class: "card" },
        h("details", { open: wasOpen || null },
          h("summary", {}, `Audit trail (${detail.timeline.length} event${detail.timeline.length === 1 ? "" : "s"})`),
          h("ol", { class: "audit" }, detail.timeline.map((e) =>
            h("li", {}, h("span", { class: "mono" }, hhmmss(e.at)), " ", h("code", {}, e.kind), ` ${e.actor} `, h("span", { class: "muted" }, auditSummary(e))))))),
    );
  }

  function say(text, kind = "ok") {
    swap(parts.status, text ? h("p", { class: `flash flash-${kind}` }, text) : null);
  }

  async function loadHistory() {
    const number = detail && detail.caller_number;
    if (!number || historyFor === number) return;
    // Viewers and engineers get the number masked and may not look callers up (docs/privacy.md).
    if (!ctx.can("personal.read")) {
      historyFor = number;
      history = [];
      return renderCaller();
    }
    historyFor = number;
    history = null;
    renderCaller();
    try {
      history = await ctx.api.get(`/api/v1/callers/${enc(number)}/incidents?limit=6`);
    } catch {
      history = [];
    }
    renderCaller();
  }

  async function reload() {
    if (!detail) return;
    const ref = detail.reference;
    const fresh = await ctx.api.get(`/api/v1/incidents/${enc(ref)}`);
    if (!detail || detail.reference !== ref) return;
    detail = fresh;
    const readOnly = !canWrite() || ENDED.has(detail.state);
    if (readOnly !== formReadOnly) build(false); // closed or cancelled: the form becomes read-only
    else if (form && !form.dirtyFields().length) form.setValues(detail);
    renderAll();
    loadHistory();
  }

  /** Open an incident; `pop` marks a screen-pop from a call. */
  async function open(ref, { pop = null, focus = "heading" } = {}) {
    if (form && form.dirtyFields().length && (!detail || detail.reference !== ref)) {
      const ok = await ctx.confirm({ title: "Leave without saving?", text: `Your changes to ${detail ? detail.reference : "the new incident"} are not saved.`, ok: "Leave" });
      if (!ok) return false;
    }
    const fresh = await ctx.api.get(`/api/v1/incidents/${enc(ref)}`);
    const same = detail && detail.reference === ref;
    detail = fresh;
    popped = pop || (same ? popped : null);
    if (!same) {
      historyFor = null;
      history = null;
    }
    build(false);
    practice.forget();
    renderAll();
    loadHistory();
    practice.load(ref).then(() => detail && detail.reference === ref && form && practice.render(detail, form.values().category));
    ctx.selected = ref;
    ctx.queue.render();
    if (focus === "form" && canWrite()) form.focusFirst();
    else pane.querySelector("#incident-title")?.focus({ preventScroll: true });
    return true;
  }

  function startNew() {
    if (!canWrite()) return;
    detail = null;
    popped = null;
    ctx.selected = null;
    ctx.queue.render();
    practice.forget();
    build(true);
    renderAll();
    form.focusFirst();
  }

  async function save() {
    if (!form || !canWrite()) return;
    const isNew = !detail;
    const problems = form.check();
    if (Object.keys(problems).length) {
      form.showErrors(problems, "Not saved: some required fields are missing.");
      say("");
      return;
    }
    const body = form.body(isNew);
    if (!isNew && !Object.keys(body).length) {
      say("Nothing changed.", "info");
      return;
    }
    form.clearErrors();
    try {
      const saved = isNew
        ? await ctx.api.post("/api/v1/incidents", { ...body, source: "desk" })
        : await ctx.api.patch(`/api/v1/incidents/${enc(detail.reference)}`, body);
      if (isNew) {
        form = null;
        await open(saved.reference);
      } else {
        detail = { ...detail, ...saved };
        form.setValues(saved);
        await reload().catch(() => {}); // saved either way; the next event or resync refreshes
      }
      say(saved.priority ? `Saved. The server triaged it: ${saved.classification ? label({}, saved.classification) : ""} ${PRIORITY[saved.priority]}.` : "Saved.");
      ctx.queue.refresh();
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) form.showErrors(err.fields, "The server refused the change:");
      else form.showErrors({}, `Not saved: ${err.message}`);
    }
  }

  /** The reference an action is for: the one its button or key was pressed on, never a later one. */
  function shown(ref) {
    return Boolean(detail && ref && detail.reference === ref);
  }

  async function act(doing, ref, fn) {
    try {
      await fn();
      if (shown(ref)) await reload();
      ctx.queue.refresh();
    } catch (err) {
      if (shown(ref)) say(`Could not ${doing} ${ref}: ${err instanceof ApiError ? err.describe() : err.message}`, "error");
    }
  }

  async function dispatch(ref = detail && detail.reference) {
    if (!shown(ref) || !canWrite() || !chosen.size) return;
    const resources = [...chosen];
    await act("dispatch", ref, async () => {
      await ctx.api.post(`/api/v1/incidents/${enc(ref)}/dispatch`, { resources });
      chosen.clear();
      say(`Dispatched ${resources.join(", ")} to ${ref}. Watch each unit's timeline: sent is not acknowledged.`);
    });
  }

  async function acknowledge(ref = detail && detail.reference) {
    if (!shown(ref) || !canWrite()) return;
    const ok = await ctx.confirm({ title: `Acknowledge ${ref} at the desk?`, text: "Use this when the unit acknowledged by voice or phone. It stops the fallback to other channels.", ok: `Acknowledge ${ref}` });
    if (ok) await act("acknowledge", ref, async () => { await ctx.api.post(`/api/v1/incidents/${enc(ref)}/acknowledge`, {}); say(`${ref} acknowledged at the desk.`); });
  }

  async function resolve(ref = detail && detail.reference) {
    if (!shown(ref) || !canWrite() || !RESOLVABLE.has(detail.state)) return;
    const note = await ctx.confirm({ title: `Resolve ${ref}?`, text: `Everyone who was reached for ${ref} is sent a stand-down.`, ok: `Resolve ${ref}`, note: "Note (optional)" });
    if (note !== false) await act("resolve", ref, async () => { await ctx.api.post(`/api/v1/incidents/${enc(ref)}/resolve`, { note: note || "" }); say(`${ref} resolved. Stand-down messages are going out.`); });
  }

  async function cancel(ref = detail && detail.reference) {
    if (!shown(ref) || !ctx.can("incident.supervise")) return;
    const note = await ctx.confirm({ title: `Cancel ${ref}?`, text: `Everyone who was reached for ${ref} is sent a stand-down.`, ok: `Cancel ${ref}`, note: "Reason (optional)" });
    if (note !== false) await act("cancel", ref, async () => { await ctx.api.post(`/api/v1/incidents/${enc(ref)}/cancel`, { note: note || "" }); say(`${ref} cancelled.`); });
  }

  async function close(ref = detail && detail.reference) {
    if (!shown(ref) || !ctx.can("incident.supervise") || !["resolved", "cancelled"].includes(detail.state)) return;
    const lessons = await ctx.confirm({ title: `Close ${ref}?`, text: `Closing ${ref} makes its post-incident review.`, ok: `Close ${ref}`, note: "Lessons learned (optional)", value: detail.lessons || "" });
    if (lessons !== false) await act("close", ref, async () => { await ctx.api.post(`/api/v1/incidents/${enc(ref)}/close`, lessons ? { lessons } : {}); say(`${ref} closed. The review is ready (V).`); });
  }

  return {
    open,
    startNew,
    save,
    dispatch,
    acknowledge,
    resolve,
    close,
    current: () => detail,
    isDirty: () => Boolean(form && form.dirtyFields().length),
    focusForm: () => form && !form.inputs.nature.disabled && form.focusFirst(),
    openReview: () => detail && detail.state === "closed" && ctx.openReview(detail.reference),
    onEvent(event) {
      if (detail && event.incident === detail.reference) reloadSoon();
      else if (detail && event.kind === "unit.status") renderDispatch();
    },
    refreshUnits() {
      if (detail) {
        renderDispatch();
        renderDeliveries();
      }
    },
    resync: () => reload().catch(() => {}),
    clear() {
      detail = null;
      form = null;
      popped = null;
    },
  };
}
