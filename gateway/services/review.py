"""The post-incident review: timeline, response times against targets, channel failures and
fallbacks, lessons learned. Built from the store (the audit trail is the source), as JSON and
Markdown. Personal data is masked in both."""

from __future__ import annotations

from collections import Counter
from typing import Any

from gateway.clock import iso
from gateway.domain.personal import mask_name, mask_number, redact_fields
from gateway.domain.states import FALLBACK_REASONS, DeliveryState
from gateway.policies.hazards import match_hazards
from gateway.settings import Settings
from gateway.store import Tx

MILESTONES = (
    ("dispatch", "dispatched_at"),
    ("acknowledge", "acknowledged_at"),
    ("on_scene", "on_scene_at"),
    ("resolve", "resolved_at"),
)
FAILED = FALLBACK_REASONS


async def build_review(tx: Tx, ref: str, settings: Settings) -> dict[str, Any]:
    inc = await tx.get_incident(ref)
    deliveries = await tx.deliveries_for_incident(inc.id)
    attempts = await tx.attempts_for([d.id for d in deliveries])
    audit = await tx.audit_for_incident(inc.id)
    updates = await tx.updates_for_incident(inc.id)
    survey = await tx.survey_for(inc.id)
    merged = [(m, await tx.audit_for_incident(m.id)) for m in await tx.incidents_merged_into(inc.reference)]
    target = settings.triage.targets[inc.priority].response_target if inc.priority else None
    times: dict[str, Any] = {}
    for name, attr in MILESTONES:
        at = getattr(inc, attr)
        times[name] = {"seconds": round(at - inc.created_at, 3) if at is not None else None, "at": iso(at)}
    on_scene = times["on_scene"]["seconds"]
    times["response_target_seconds"] = target
    times["response_target_met"] = (on_scene <= target) if (on_scene is not None and target) else None

    per_channel: dict[str, Counter[str]] = {}
    for a in attempts:
        c = per_channel.setdefault(a.channel, Counter())
        c["attempts"] += 1
        c[a.state.value] += 1
        if a.closed_reason in FAILED:
            c[f"fallback_{a.closed_reason}"] += 1
    fallbacks = [
        {
            "delivery": a.delivery_id,
            "channel": a.channel,
            "reason": a.closed_reason,
            "state": a.state.value,
            "error": a.evidence.get("error"),
        }
        for a in attempts
        if a.closed_reason in FAILED
    ]
    return {
        "incident": {
            "reference": inc.reference,
            "source": inc.source,
            "state": inc.state.value,
            "category": inc.category,
            "classification": inc.classification.value if inc.classification else None,
            "priority": inc.priority.value if inc.priority else None,
            "nature": inc.nature,
            "location": inc.location,
            "caller_number": mask_number(inc.caller_number),
            "caller_name": mask_name(inc.caller_name),
            "created_at": iso(inc.created_at),
            "closed_at": iso(inc.closed_at),
            "escalation_level": inc.escalation_level,
            "merged_into": inc.merged_into,
        },
        "times": times,
        "deliveries": [
            {
                "id": d.id,
                "recipient": d.recipient_id,
                "purpose": d.purpose.value,
                "state": d.state.value,
                "outcome": d.outcome,
                "acknowledged_at": iso(d.acknowledged_at),
                "channels_tried": [a.channel for a in attempts if a.delivery_id == d.id],
            }
            for d in deliveries
        ],
        "channels": {name: dict(c) for name, c in sorted(per_channel.items())},
        "fallbacks": fallbacks,
        "acknowledged": sum(1 for d in deliveries if d.state is DeliveryState.ACKNOWLEDGED),
        "timeline": [_entry(e) for e in audit],
        # Duplicates merged into this incident (gateway/services/merge.py): each call and timeline.
        "merged": [
            {
                "reference": m.reference,
                "call_id": m.call_id,
                "caller_number": mask_number(m.caller_number),
                "desk": m.desk,
                "created_at": iso(m.created_at),
                "merged_at": iso(m.closed_at),
                "timeline": [_entry(e) for e in rows],
            }
            for m, rows in merged
        ],
        "lessons": inc.lessons or "",
        "stakeholder_updates": [
            {
                "at": iso(u["at"]),
                "group": u["group_name"],
                "stage": u["stage"],
                "deliveries": [
                    {"recipient": d.recipient_id, "state": d.state.value, "outcome": d.outcome}
                    for d in deliveries
                    if d.dispatch_id == u["dispatch_id"]
                ],
            }
            for u in updates
        ],
        "survey": {"state": survey.state, "score": survey.score} if survey is not None else None,
        "hazards": [
            {"id": h.id, "kind": h.kind, "note": h.note}
            for h in match_hazards(inc.location, settings.hazards)
        ],
    }


def _entry(e: dict[str, Any]) -> dict[str, Any]:
    return {"at": iso(e["at"]), "kind": e["kind"], "actor": e["actor"], "data": redact_fields(e["data"])}


def _secs(v: float | None) -> str:
    if v is None:
        return "—"
    m, s = divmod(round(v), 60)
    return f"{m}m {s:02d}s" if m else f"{s}s"


def review_markdown(r: dict[str, Any]) -> str:
    i = r["incident"]
    t = r["times"]
    lines = [
        f"# Post-incident review: {i['reference']}",
        "",
        f"- **Priority:** {i['priority'] or '—'} ({i['classification'] or 'unclassified'})",
        f"- **Category:** {i['category'] or '—'}",
        f"- **Nature:** {i['nature'] or '—'}",
        f"- **Location:** {i['location'] or '—'}",
        f"- **Source:** {i['source']}; caller {i['caller_number'] or '—'}",
        f"- **Opened:** {i['created_at']}; **closed:** {i['closed_at'] or '—'}",
        f"- **Escalation level reached:** {i['escalation_level']}",
        *([f"- **Merged into:** {i['merged_into']} (closed as a duplicate)"] if i["merged_into"] else []),
        "",
        "## Response times",
        "",
        "| milestone | time from creation |",
        "|---|---|",
    ]
    lines += [f"| {name.replace('_', ' ')} | {_secs(t[name]['seconds'])} |" for name, _ in MILESTONES]
    met = t["response_target_met"]
    verdict = "not reached" if met is None else ("met" if met else "missed")
    lines += [
        "",
        f"Response target (on scene): {_secs(t['response_target_seconds'])}, **{verdict}**.",
        "",
        "## Deliveries",
        "",
        "| recipient | purpose | state | channels tried |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {d['recipient']} | {d['purpose']} | {d['state']} | {' → '.join(d['channels_tried']) or '—'} |"
        for d in r["deliveries"]
    ]
    lines += ["", "## Channels", "", "| channel | attempts | outcomes |", "|---|---|---|"]
    for name, c in r["channels"].items():
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k != "attempts")
        lines.append(f"| {name} | {c.get('attempts', 0)} | {outcomes} |")
    lines += ["", "## Fallbacks", ""]
    fallbacks = []
    for f in r["fallbacks"]:
        error = f": {f['error']}" if f["error"] else ""
        fallbacks.append(f"- delivery {f['delivery']}: left {f['channel']} ({f['reason']}{error})")
    lines += fallbacks or ["- none"]
    lines += ["", "## Stakeholder updates", ""]
    lines += [
        f"- {u['at']} {u['stage']} to {u['group']}: "
        + (", ".join(f"{d['recipient']} {d['state']}" for d in u["deliveries"]) or "nobody")
        for u in r["stakeholder_updates"]
    ] or ["- none"]
    if r["survey"] is not None:
        score = r["survey"]["score"]
        lines += ["", f"Caller survey: {r['survey']['state']}" + (f", score {score}/5" if score else "")]
    lines += ["", "## Timeline", ""]
    lines += [f"- {e['at']} `{e['kind']}` by {e['actor']}" for e in r["timeline"]]
    lines += ["", "## Merged duplicates", ""]
    held = []
    for m in r["merged"]:
        held.append(
            f"- {m['reference']}: call {m['call_id'] or '—'} from {m['caller_number'] or '—'}, "
            f"opened {m['created_at']}, merged {m['merged_at'] or '—'}"
        )
        held += [f"  - {e['at']} `{e['kind']}` by {e['actor']}" for e in m["timeline"]]
    lines += held or ["- none"]
    lines += ["", "## Hazards at the location", ""]
    lines += [f"- {h['kind']} ({h['id']}){': ' + h['note'] if h['note'] else ''}" for h in r["hazards"]] or [
        "- none"
    ]
    lines += ["", "## Lessons learned", "", r["lessons"] or "_none recorded_", ""]
    return "\n".join(lines)
