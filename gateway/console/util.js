// Small helpers shared by the views: element building (never innerHTML with data), time and labels.

/** Build an element: h("button", {class: "primary", onclick: f}, "Save"). Null children are skipped. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element with attributes and children (for the inline charts). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * Replace a container's children, keeping keyboard focus on the element with the same
 * data-key (re-rendering must never throw a dispatcher's focus away).
 */
export function swap(container, ...children) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.key : undefined;
  container.replaceChildren();
  append(container, children);
  if (key) {
    const again = container.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
}

export const PRIORITY = {
  P1: "P1 critical",
  P2: "P2 high",
  P3: "P3 medium",
  P4: "P4 low",
};

export const INCIDENT_STATE = {
  new: "New",
  triaged: "Triaged",
  dispatched: "Dispatched",
  acknowledged: "Acknowledged",
  on_scene: "On scene",
  resolved: "Resolved",
  closed: "Closed",
  cancelled: "Cancelled",
};

// What a delivery or attempt state means for the field, in words: "sent" is not "reached".
export const DELIVERY_STATE = {
  pending: "Queued, not sent yet",
  sending: "Sending",
  sent: "Sent, no receipt yet",
  delivered: "Delivered, not acknowledged",
  acknowledged: "Acknowledged",
  failed_temporary: "Failed, retrying",
  failed_permanent: "Failed",
  cancelled: "Cancelled",
};

// Why an attempt stopped; the four fallback reasons move the delivery on to its next endpoint.
export const CLOSED_REASON = {
  failed: "send failed",
  confirm_timeout: "no delivery receipt in time",
  ack_timeout: "no acknowledgement in time",
  channel_down: "channel down",
  one_way: "one-way channel: not waiting for an ack",
  done: "sent; no acknowledgement needed",
  acknowledged: "acknowledged",
  "incident merged": "incident merged into another",
};
export const FALLBACK_REASONS = new Set(["failed", "confirm_timeout", "ack_timeout", "channel_down"]);

export const UNIT_STATUS = {
  available: "Available",
  dispatched: "Dispatched",
  en_route: "En route",
  on_scene: "On scene",
  returning: "Returning",
  unavailable: "Unavailable",
  out_of_service: "Out of service",
};

export const LEVEL = { 1: "1 high", 2: "2 medium", 3: "3 low" };

export function label(table, value) {
  return table[value] || (value ? String(value).replaceAll("_", " ") : "—");
}

/** ISO time from the API -> epoch milliseconds (null stays null). */
export function ms(iso) {
  return iso ? Date.parse(iso) : null;
}

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function clock(seconds) {
  const s = Math.max(0, Math.floor(Math.abs(seconds)));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** 42 -> "42s", 480 -> "8m", 5400 -> "1h 30m". */
export function span(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return s % 60 && s < 600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.round(s / 60)}m`;
  const hh = Math.floor(s / 3600);
  const mm = Math.round((s % 3600) / 60);
  return mm ? `${hh}h ${mm}m` : `${hh}h`;
}

/** "3m ago" style, from an ISO time. */
export function ago(iso, now = Date.now()) {
  const t = ms(iso);
  if (t === null) return "never";
  const s = (now - t) / 1000;
  return s < 5 ? "just now" : `${span(s)} ago`;
}

/** Local wall-clock time of an ISO time: "14:03:27". */
export function hhmmss(iso) {
  const t = ms(iso);
  if (t === null) return "—";
  return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

/** A date and time for lists: "14:03" today, "2026-11-21 14:03" before. */
export function when(iso) {
  const t = ms(iso);
  if (t === null) return "—";
  const d = new Date(t);
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  if (d.toDateString() === new Date().toDateString()) return `today ${hm}`;
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

export function debounce(fn, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

/** A priority badge: colour and text, never colour alone. */
export function priorityBadge(priority) {
  return priority
    ? h("span", { class: `badge prio prio-${priority}` }, PRIORITY[priority] || priority)
    : h("span", { class: "badge prio prio-none" }, "Not triaged");
}

export function stateBadge(state) {
  return h("span", { class: `badge state state-${state}` }, label(INCIDENT_STATE, state));
}

/** Save a text as a file the browser downloads. */
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
