// Incoming calls: announced, never forced on the dispatcher. A screen-pop adds the call to a
// waiting list shown in its own banner, highlights its row in the queue and chimes (when sound is
// on); the view and the incident on screen never change. One key (O) or the banner's button takes
// the oldest waiting call. A call's announcement clears as soon as its incident is handled:
// opened here, moved past triage by anyone, or no longer open.

import { h, swap } from "./util.js";

const HANDLED = new Set(["dispatched", "acknowledged", "on_scene", "resolved", "closed", "cancelled"]);

export function createCalls(ctx) {
  const el = document.getElementById("call-banner");
  const waiting = []; // [{ref, at, result}], oldest first
  const done = new Set(); // references already taken or handled: a late duplicate pop is ignored

  function render() {
    if (!waiting.length) {
      el.hidden = true;
      swap(el);
      ctx.queue.render();
      return;
    }
    const first = waiting[0];
    const more = waiting.length - 1;
    const what = first.result === "linked" ? `Repeat call for ${first.ref}` : `Incoming call: ${first.ref}`;
    swap(
      el,
      h("span", { class: "call-text" }, what,
        more ? h("span", { class: "call-more" }, ` · ${more} more call${more === 1 ? "" : "s"} waiting`) : null),
      h("button", { type: "button", class: "primary", "data-key": "take-call", onclick: () => take() },
        `Take call ${first.ref} `, h("kbd", {}, "O")),
    );
    el.hidden = false;
    ctx.queue.render();
  }

  function announce(ref, info) {
    if (!ref || done.has(ref) || waiting.some((c) => c.ref === ref)) return;
    if (ctx.selected === ref) return; // already on screen: nothing to announce
    waiting.push({ ref, at: info.at, result: info.result });
    if (ctx.alarm) ctx.alarm.ring();
    render();
  }

  function settle(ref) {
    const at = waiting.findIndex((c) => c.ref === ref);
    done.add(ref);
    if (at < 0) return;
    waiting.splice(at, 1);
    render();
  }

  /** O: open the oldest waiting call's incident (the dispatcher's own choice to switch). */
  async function take() {
    const call = waiting[0];
    if (!call) return false;
    const opened = await ctx.openIncident(call.ref, { pop: { at: call.at, result: call.result }, focus: "form" });
    if (opened) settle(call.ref);
    return opened;
  }

  /** Any event about an announced incident: clear the announcement once it is handled. */
  function onEvent(event) {
    const ref = event.incident;
    if (!ref || !waiting.some((c) => c.ref === ref)) return;
    const state = event.data && (event.data.to || event.data.state);
    if (HANDLED.has(state)) settle(ref);
  }

  /** After a queue refresh: incidents no longer open are no longer waiting calls. */
  function reconcile(incidents) {
    const open = new Map(incidents.map((i) => [i.reference, i.state]));
    for (const call of [...waiting]) {
      const state = open.get(call.ref);
      if (state !== undefined && HANDLED.has(state)) settle(call.ref);
    }
  }

  return {
    announce,
    take,
    settle,
    onEvent,
    reconcile,
    isWaiting: (ref) => waiting.some((c) => c.ref === ref),
    waiting: () => waiting.map((c) => c.ref),
  };
}
