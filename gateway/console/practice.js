// Per-category practice ([[triage.categories]], from GET /api/v1/triage): as soon as a category
// with a practice is chosen, its safety advice (to read to the caller) and scripted questions
// appear; answers are stored on the incident (POST …/answers), and an answer rule that raises
// impact or urgency re-triages it, with the rule's reason in the rationale.

import { ApiError, enc } from "./api.js";
import { h, swap } from "./util.js";

export function createPractice(ctx, { container, canWrite, say, reload }) {
  let stored = {}; // question -> {answer, answered_at, answered_by}
  let storedFor = null;
  const draft = {}; // question -> what is typed now
  let shownKey = null;

  function practiceFor(category) {
    const all = (ctx.triage && ctx.triage.categories) || [];
    const wanted = (category || "").trim().toLowerCase();
    return wanted ? all.find((c) => c.category.trim().toLowerCase() === wanted) || null : null;
  }

  function value(q) {
    if (draft[q.id] !== undefined) return draft[q.id];
    return stored[q.id] ? stored[q.id].answer : "";
  }

  function control(q, writable) {
    const common = {
      id: `q-${q.id}`,
      "data-key": `q-${q.id}`,
      disabled: !writable,
      oninput: (e) => { draft[q.id] = e.target.value; },
      onchange: (e) => { draft[q.id] = e.target.value; },
    };
    if (q.choices.length) {
      return h("select", common, h("option", { value: "" }, "—"),
        q.choices.map((c) => h("option", { value: c, selected: value(q) === c }, c)));
    }
    return h("input", { ...common, type: "text", value: value(q), autocomplete: "off" });
  }

  function render(detail, category) {
    const el = container();
    if (!el) return;
    const p = practiceFor(category);
    const writable = canWrite();
    const key = `${p ? p.category : ""}|${detail ? detail.reference : "new"}|${storedFor}|${writable}`;
    if (key === shownKey && el.childNodes.length) return; // keep what is being typed
    shownKey = key;
    if (!p) return swap(el);
    const required = new Set(p.required);
    const ref = detail ? detail.reference : null;
    swap(el, h("section", { class: "card practice", "aria-labelledby": "practice-title" },
      h("h3", { id: "practice-title" }, `Category practice: ${p.category}`),
      p.advice.length
        ? h("div", { class: "advice", role: "note", "aria-label": "Safety advice" },
            h("h4", {}, "Safety advice: read to the caller now"),
            h("ol", {}, p.advice.map((a) => h("li", {}, a))))
        : null,
      p.questions.length
        ? h("div", { class: "questions" },
            h("h4", {}, "Ask the caller"),
            h("ol", { class: "question-list" }, p.questions.map((q) => h("li", {},
              h("label", { for: `q-${q.id}` }, q.text, required.has(q.id) ? " *" : ""),
              control(q, writable && Boolean(ref))))),
            ref && writable
              ? h("button", { type: "button", class: "primary", "data-key": "save-answers", onclick: () => save(ref) },
                  `Save answers for ${ref}`)
              : h("p", { class: "muted small" }, ref ? "Read only." : "Create the incident first; then the answers are stored on it."))
        : null));
  }

  async function load(ref) {
    try {
      const got = await ctx.api.get(`/api/v1/incidents/${enc(ref)}/answers`);
      stored = got.answers || {};
      storedFor = ref;
      shownKey = null;
    } catch {
      /* no practice for this category, or the server is older: nothing to show */
    }
  }

  async function save(ref) {
    const p = container().querySelectorAll(".question-list [data-key^='q-']");
    const answers = {};
    for (const input of p) {
      const id = input.id.slice(2);
      if (input.value.trim()) answers[id] = input.value.trim();
    }
    if (!Object.keys(answers).length) return say(`No answers to save for ${ref} yet.`, "info");
    try {
      const result = await ctx.api.post(`/api/v1/incidents/${enc(ref)}/answers`, { answers });
      stored = result.answers;
      for (const k of Object.keys(draft)) delete draft[k];
      shownKey = null;
      const raised = result.raised.length ? ` Raised to ${result.priority}: ${result.raised.join("; ")}.` : "";
      say(`Answers saved for ${ref}.${raised}`);
      ctx.queue.refresh();
      await reload();
    } catch (err) {
      say(`Could not save the answers for ${ref}: ${err instanceof ApiError ? err.describe() : err.message}`, "error");
    }
  }

  function forget() {
    stored = {};
    storedFor = null;
    shownKey = null;
    for (const k of Object.keys(draft)) delete draft[k];
  }

  return { render, load, forget };
}
