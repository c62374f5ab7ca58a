// The public HTTP API, with the signed-in token. Every failure becomes an ApiError carrying the
// API's own JSON error ({"error", "message", "fields"}), so views can show it where it belongs.

export class ApiError extends Error {
  constructor(status, body) {
    const message = (body && body.message) || (status ? `HTTP ${status}` : "cannot reach the server");
    super(message);
    this.status = status;
    this.body = body || {};
    this.fields = (body && body.fields) || {};
  }

  /** One line for a banner, in the words the page shows: never an enum or a Python repr. */
  describe() {
    if (this.body.error === "illegal_transition") return transitionText(this.body);
    if (this.status === 0) return "the server cannot be reached; check the connection and try again";
    const fields = Object.entries(this.fields).map(([k, v]) => `${k}: ${v}`);
    return [this.message, ...fields].join(" · ");
  }
}

// The page's own words for incident states (as util.js INCIDENT_STATE) and what each move needs.
const STATE_WORDS = {
  new: "New", triaged: "Triaged", dispatched: "Dispatched", acknowledged: "Acknowledged",
  on_scene: "On scene", resolved: "Resolved", closed: "Closed", cancelled: "Cancelled",
};
const MOVE = {
  closed: ["closed", "Resolve or cancel it first."],
  resolved: ["resolved", "Only a triaged or dispatched incident can be resolved."],
  cancelled: ["cancelled", "A resolved or closed incident cannot be cancelled."],
  dispatched: ["dispatched", "Save the required fields first, so triage can run."],
  acknowledged: ["acknowledged", "Nothing is waiting for an acknowledgement."],
  triaged: ["triaged", "It has already moved on."],
};

function plainState(value) {
  // Older servers sent "IncidentState.DISPATCHED"; keep only the value either way.
  const v = String(value || "").split(".").pop().toLowerCase();
  return STATE_WORDS[v] || v.replaceAll("_", " ");
}

function transitionText(body) {
  const to = String(body.to || "").split(".").pop().toLowerCase();
  const [verb, hint] = MOVE[to] || [plainState(to).toLowerCase(), ""];
  const what = body.entity === "incident" ? body.key : `${body.entity} ${body.key}`;
  return `${what} is ${plainState(body.from)}, so it cannot be ${verb}. ${hint}`.trim();
}

export class Api {
  constructor(token, { onUnauthorized } = {}) {
    this.token = token;
    this.onUnauthorized = onUnauthorized || (() => {});
  }

  async request(method, path, body, { accept = "application/json" } = {}) {
    const headers = { Authorization: `Bearer ${this.token}`, Accept: accept };
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(0, null);
    }
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("application/json") ? await response.json().catch(() => null) : await response.text();
    if (!response.ok) {
      const err = new ApiError(response.status, typeof data === "object" ? data : { message: String(data) });
      if (response.status === 401) this.onUnauthorized(err);
      throw err;
    }
    return data;
  }

  get(path) {
    return this.request("GET", path);
  }

  text(path) {
    return this.request("GET", path, undefined, { accept: "text/markdown" });
  }

  post(path, body = {}) {
    return this.request("POST", path, body);
  }

  patch(path, body) {
    return this.request("PATCH", path, body);
  }
}

export const enc = encodeURIComponent;
