// The event stream: GET /api/v1/events over a WebSocket. When it drops, reconnect with a capped,
// jittered back-off and `?since=<last event id>`, so the server replays what was missed.

/** Delays in seconds: 0.5, 1, 2, 4, 8, 10, 10, ... each with ±20 % jitter. */
export function* backoff(base = 0.5, cap = 10, factor = 2) {
  let delay = base;
  for (;;) {
    yield delay * (0.8 + Math.random() * 0.4);
    delay = Math.min(cap, delay * factor);
  }
}

export class LiveEvents {
  /**
   * onEvent(event): every event, live or replayed (`event.replay === true`).
   * onStatus({state, attempt, delay, replayed, everConnected}): "connecting", "live", "down".
   */
  constructor({ token, onEvent, onStatus }) {
    this.token = token;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.lastId = null;
    this.socket = null;
    this.stopped = false;
    this.attempt = 0;
    this.delays = backoff();
    this.timer = null;
    this.everConnected = false;
    this.replayed = 0;
  }

  url() {
    const url = new URL("/api/v1/events", window.location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.token);
    if (this.lastId !== null) url.searchParams.set("since", String(this.lastId));
    return url.toString();
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close(1000, "signed out");
    this.socket = null;
  }

  connect() {
    if (this.stopped) return;
    this.status("connecting");
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      const reconnected = this.everConnected;
      this.everConnected = true;
      this.attempt = 0;
      this.delays = backoff();
      this.replayed = 0;
      this.status("live", { reconnected });
    });
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (typeof event.id === "number") this.lastId = Math.max(this.lastId ?? 0, event.id);
      if (event.replay) {
        this.replayed += 1;
        this.status("live", { reconnected: true });
      }
      this.onEvent(event);
    });
    socket.addEventListener("close", (closed) => {
      if (socket !== this.socket || this.stopped) return;
      this.socket = null;
      this.attempt += 1;
      const delay = this.delays.next().value;
      this.status("down", { delay, code: closed.code });
      this.timer = setTimeout(() => this.connect(), delay * 1000);
    });
  }

  status(state, extra = {}) {
    this.onStatus({
      state,
      attempt: this.attempt,
      replayed: this.replayed,
      everConnected: this.everConnected,
      ...extra,
    });
  }
}
