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

  /** One line for a banner: the API's message plus any field reasons. */
  describe() {
    const fields = Object.entries(this.fields).map(([k, v]) => `${k}: ${v}`);
    return [this.message, ...fields].join(" · ");
  }
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
