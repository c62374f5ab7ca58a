"""The demo's live narration: one line for each bus event a newcomer should see."""

from __future__ import annotations

from typing import Any

from gateway.bus import BusEvent
from gateway.demo.samples import FORM

CLOSE_REASONS = {
    "ack_timeout": "no ack in time: next endpoint",
    "one_way": "one-way: a pager cannot ack, so the ladder moves on",
    "acknowledged": "acknowledged elsewhere",
}
HIDDEN = ("attempt.pending", "attempt.sending", "attempt.resumed", "delivery.pending", "delivery.sending")
TRANSITIONAL = ("connecting", "calling", "starting", "opening")
DELIVERY_SHOWN = ("delivery.acknowledged", "delivery.duplicate_ack", "delivery.exhausted", "delivery.waiting")


def narrate(event: BusEvent) -> str | None:
    """One line for each event a newcomer should see; None for the rest."""
    d, k, ref = event.data, event.kind, event.incident or ""
    if k.startswith(HIDDEN):
        return None
    if k == "incident.created":
        if d.get("source") == "call":
            return f"{ref} created from a SIP call answered at the desk (caller {d.get('caller_number')})"
        return f"{ref} created by {_actor(event)} (source {d.get('source')})"
    if k == "incident.updated":
        if not set(FORM) & set(d.get("changed", [])):
            return None
        return (
            f"{ref} the desk takes the details: {d['nature']} at {d['location']} "
            f"({d['category']}, impact {d['impact']}, urgency {d['urgency']})"
        )
    if k == "incident.triaged":
        return f"{ref} triaged: {d['classification']} {d['priority']}; recommended " + (
            ", ".join(r["resource_id"] for r in d["recommendation"]) or "nobody"
        )
    if k == "delivery.created":
        what = str(d.get("purpose", "message")).replace("_", "-")
        return f"{ref}   {what} to {d['recipient']} ({d['mode']}): " + " → ".join(d["plan"])
    if k.startswith("delivery."):
        if not k.startswith(DELIVERY_SHOWN):
            return None
        return f"{ref}   delivery to {d.get('recipient', '')}: {k.split('.', 1)[1].replace('_', ' ')}"
    if k.startswith("attempt."):
        return _attempt(ref, k.split(".", 1)[1], d)
    if k == "unit.status":
        return f"{ref}   {d['resource']} is {d['status']}".lstrip()
    if k == "channel.health":
        reason = str(d.get("reason") or "")
        if d["state"] != "up" and (reason.startswith(TRANSITIONAL) or reason.endswith("start-up checks")):
            return None  # on its way up; the "up" (or a real failure) follows
        return f"channel {d['channel']} is {d['state']}" + (f": {reason}" if reason else "")
    if k == "call.ended":
        seconds = d.get("handling_seconds")
        return f"{ref} call ended" + (f" after {seconds:.1f} s" if seconds is not None else "")
    if k == "call.abandoned":
        return f"call abandoned before answer ({d.get('reason')})"
    if k == "incident.escalated":
        to = f" {d['group']}" if d.get("group") else ""
        return f"{ref} escalated to level {d['level']} (no ack after {d['after']:g} s): {d['action']}{to}"
    if k.startswith("incident.") and k != "incident.review_ready":
        return f"{ref} {k.split('.', 1)[1]} by {_actor(event)}"
    return None


def _actor(event: BusEvent) -> str:
    return str(event.data.get("actor") or "system")


def _attempt(ref: str, what: str, d: dict[str, Any]) -> str | None:
    where = f"{ref}   {d.get('channel')}:{d.get('address')}"
    if what == "closed":
        reason = str(d.get("reason") or "")
        if reason in ("acknowledged", "done"):
            return None
        return f"{where} closed ({CLOSE_REASONS.get(reason, reason)})"
    evidence = d.get("evidence") or {}
    if what == "acknowledged":
        said = evidence.get("text")
        how = f' ("{said}")' if said else " (radio ack)" if "topic" in evidence else ""
        return f"{where} acknowledged{how}"
    extra = d.get("reason") or evidence.get("error") or CLOSE_REASONS.get(str(d.get("closed")), "")
    return f"{where} {what}" + (f" ({extra})" if extra else "")
