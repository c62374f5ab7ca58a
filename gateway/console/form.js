// The incident form: the five fields triage needs and the caller's details, checked in the page
// before anything is sent, and the API's own 422 reasons shown next to the field they name.

import { h, LEVEL } from "./util.js";

export const FIELDS = [
  { name: "nature", label: "Nature", required: true, max: 500, hint: "What is happening, in a few words" },
  { name: "location", label: "Location", required: true, max: 500, hint: "Address or landmark" },
  { name: "coords", label: "Coordinates", max: 40, coords: true, hint: "lat, lon in degrees; empty: from the gazetteer" },
  { name: "category", label: "Category", required: true, max: 64, list: "categories", hint: "e.g. fire, medical, power" },
  { name: "impact", label: "Impact", required: true, level: true, hint: "How many people or services are affected" },
  { name: "urgency", label: "Urgency", required: true, level: true, hint: "How fast it gets worse" },
  { name: "caller_number", label: "Caller number", max: 40, hint: "Checked by the server" },
  { name: "caller_name", label: "Caller name", max: 200 },
];
export const MANDATORY = FIELDS.filter((f) => f.required).map((f) => f.name);
const TRIAGE_INPUTS = new Set(["category", "impact", "urgency", "coords"]);

/** "51.5072, -0.1276" -> [51.5072, -0.1276]; "" -> null; anything else -> undefined. */
export function parseCoords(text) {
  if (!text) return null;
  const m = text.match(/^\s*(-?\d+(?:\.\d+)?)\s*[,; ]\s*(-?\d+(?:\.\d+)?)\s*$/);
  if (!m) return undefined;
  const lat = Number(m[1]);
  const lon = Number(m[2]);
  return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? [lat, lon] : undefined;
}

/** Build a form for an incident (null: a new one). `readOnly` for roles that may not write. */
export function buildForm(incident, { readOnly, onChange, onSubmit }) {
  const inputs = {};
  const errors = {};
  const formError = h("p", { class: "form-error", role: "alert" });
  const form = h("form", { class: "incident-form", novalidate: true, "aria-label": "Incident details" });
  const grid = h("div", { class: "form-grid" });
  for (const f of FIELDS) {
    const id = `f-${f.name}`;
    const errorId = `${id}-error`;
    const hintId = `${id}-hint`;
    let input;
    if (f.level) {
      input = h(
        "select",
        { id, name: f.name, "aria-describedby": `${hintId} ${errorId}`, "aria-required": f.required ? "true" : null },
        h("option", { value: "" }, "Choose…"),
        Object.entries(LEVEL).map(([v, text]) => h("option", { value: v }, text)),
      );
    } else {
      input = h("input", {
        id,
        name: f.name,
        type: f.name === "caller_number" ? "tel" : "text",
        autocomplete: "off",
        maxlength: f.max ? String(f.max) : null,
        list: f.list || null,
        "aria-describedby": `${hintId} ${errorId}`,
        "aria-required": f.required ? "true" : null,
      });
    }
    input.disabled = readOnly;
    input.dataset.key = id;
    inputs[f.name] = input;
    errors[f.name] = h("p", { class: "field-error", id: errorId });
    grid.append(
      h(
        "div",
        { class: `field field-${f.name}` },
        h("div", { class: "label-row" },
          h("label", { for: id }, f.label),
          f.required ? h("span", { class: "req", "aria-hidden": "true" }, "*") : null),
        input,
        h("p", { class: "hint", id: hintId }, f.hint || (f.required ? "Required" : "")),
        errors[f.name],
      ),
    );
  }
  form.append(grid, formError);
  form.addEventListener("input", (e) => {
    const name = e.target.name;
    if (name && errors[name].textContent) setError(name, "");
    onChange(changedTriageInputs().length > 0);
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    onSubmit();
  });

  let baseline = {};

  function setValues(inc) {
    baseline = {};
    for (const f of FIELDS) {
      const value = !inc ? null : f.coords ? (inc.lat === null || inc.lat === undefined ? null : `${inc.lat}, ${inc.lon}`) : inc[f.name];
      baseline[f.name] = value === null || value === undefined ? "" : String(value);
      const input = inputs[f.name];
      if (f.level && baseline[f.name] && !input.querySelector(`option[value="${baseline[f.name]}"]`)) {
        input.append(h("option", { value: baseline[f.name] }, baseline[f.name]));
      }
      input.value = baseline[f.name];
    }
  }

  function values() {
    const out = {};
    for (const f of FIELDS) out[f.name] = inputs[f.name].value.trim();
    return out;
  }

  function dirtyFields() {
    const now = values();
    return FIELDS.map((f) => f.name).filter((n) => now[n] !== baseline[n]);
  }

  function changedTriageInputs() {
    return dirtyFields().filter((n) => TRIAGE_INPUTS.has(n));
  }

  function setError(name, message) {
    const input = inputs[name];
    errors[name].textContent = message;
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function clearErrors() {
    for (const name of Object.keys(errors)) setError(name, "");
    formError.textContent = "";
  }

  /** The page's own checks; returns {field: reason}. */
  function check() {
    const v = values();
    const problems = {};
    for (const f of FIELDS) {
      if (f.required && !v[f.name]) problems[f.name] = f.level ? "Choose a level" : "Required";
      else if (f.max && v[f.name].length > f.max) problems[f.name] = `At most ${f.max} characters`;
      else if (f.coords && parseCoords(v[f.name]) === undefined) problems[f.name] = "Two numbers: latitude -90..90, longitude -180..180";
    }
    return problems;
  }

  /** Show field reasons (from the page or the API); the first bad field gets focus. */
  function showErrors(problems, general = "") {
    clearErrors();
    const unplaced = [];
    for (const [name, reason] of Object.entries(problems)) {
      if (name === "lat" || name === "lon") setError("coords", `${name}: ${reason}`);
      else if (inputs[name]) setError(name, reason);
      else unplaced.push(`${name}: ${reason}`);
    }
    formError.textContent = [general, ...unplaced].filter(Boolean).join(" · ");
    const first = FIELDS.find((f) => problems[f.name]);
    if (first) inputs[first.name].focus();
  }

  /** The JSON body: every filled field for a new incident, only the changes for an existing one. */
  function body(isNew) {
    const v = values();
    const out = {};
    const names = isNew ? FIELDS.map((f) => f.name).filter((n) => v[n] !== "") : dirtyFields();
    for (const name of names) {
      const f = FIELDS.find((x) => x.name === name);
      if (f.coords) {
        const both = parseCoords(v[name]) || [null, null];
        [out.lat, out.lon] = both;
        continue;
      }
      out[name] = f.level ? (v[name] === "" ? null : Number(v[name])) : v[name] === "" ? null : v[name];
    }
    return out;
  }

  setValues(incident);
  return {
    el: form,
    inputs,
    setValues,
    values,
    dirtyFields,
    changedTriageInputs,
    check,
    showErrors,
    clearErrors,
    body,
    focusFirst() {
      const empty = FIELDS.find((f) => f.required && !inputs[f.name].value);
      (empty ? inputs[empty.name] : inputs.nature).focus();
    },
  };
}
