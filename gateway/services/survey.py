"""The caller's satisfaction survey (`[survey]`): opt-in at the desk, one SMS after the incident is
resolved ("reply 1-5"), the reply matched by the caller's number and stored.

- **Consent** is recorded on the incident by the desk (`POST /api/v1/incidents/{ref}/survey`),
  audited as `survey.consented` (or `survey.withdrawn`). No consent, no message.
- **The send**: `delay` seconds after the incident is resolved, one delivery (purpose `survey`,
  no ack awaited) through the delivery engine on the configured SMS channel: outbox, attempts,
  receipts and audit as for any delivery. The delivery's endpoint names the subject row
  (`subject:<id>`), never the number: the engine reads the number when it sends
  (gateway/engine/sending.py), so the outbox and the audit trail never hold it, and an erased or
  purged caller is not messaged (docs/privacy.md).
- **The reply**: an SMS on that channel from a number that matches no unit is offered to the
  open surveys on the channel (gateway/services/field.py): "1" to "5" (whitespace and trailing
  punctuation ignored) is the score (`survey.answered`); anything else gets one clarifying SMS,
  then is ignored. Replies are taken for `window` seconds after the survey went out.
- **The KPI**: mean score and response rate (answered / surveys the network accepted) in
  GET /api/v1/kpis and `callout_survey_*` in /metrics.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import Counter

from gateway.domain.models import Endpoint, Incident, Survey
from gateway.domain.states import (
    REACHED_STATES,
    DeliveryMode,
    IncidentState,
    Priority,
    Purpose,
    RecipientKind,
)
from gateway.engine.sending import SUBJECT_PREFIX
from gateway.errors import Conflict, ValidationFailed
from gateway.services.core import Core, number_key
from gateway.services.deliveries import Recipient, Terms, new_delivery
from gateway.store import Tx

log = logging.getLogger(__name__)
S = IncidentState
SCORES = ("1", "2", "3", "4", "5")
_ENDED = (S.RESOLVED, S.CLOSED)


class SurveyMetrics:
    """The survey's figures in the daemon's registry (the mean is score_total / responses)."""

    def __init__(self, core: Core) -> None:
        r = core.metrics.registry
        self.queued = Counter("callout_surveys_queued_total", "Surveys written to the outbox", registry=r)
        self.responses = Counter(
            "callout_survey_responses_total", "Survey replies stored, by score", ["score"], registry=r
        )
        self.score_total = Counter("callout_survey_score_total", "Sum of the scores stored", registry=r)
        self.unclear = Counter("callout_survey_unclear_total", "Survey replies that were not 1-5", registry=r)


def parse_score(text: str) -> int | None:
    """ "4", " 4. " -> 4; anything else (words, "45", "4 stars") -> None."""
    word = text.strip().rstrip(".!?,;:").strip()
    return int(word) if word in SCORES else None


def satisfaction(rows: Sequence[Any]) -> dict[str, Any]:
    """CSAT over (state, score, delivery_state) rows: surveys the network accepted, answered,
    the mean score, the response rate and how many gave each score."""
    reached = {s.value for s in REACHED_STATES}
    sent = [r for r in rows if r.delivery_state in reached]
    scores = [r.score for r in rows if r.state == "answered" and r.score is not None]
    return {
        "surveys_sent": len(sent),
        "responses": len(scores),
        "mean_score": round(sum(scores) / len(scores), 2) if scores else None,
        "response_rate": round(len(scores) / len(sent), 4) if sent else None,
        "scores": {s: scores.count(int(s)) for s in SCORES},
    }


def survey_view(s: Survey | None) -> dict[str, Any]:
    if s is None:
        return {"consent": False, "state": None}
    return {
        "consent": s.state != "withdrawn",
        "state": s.state,
        "consented_at": s.consented_at,
        "consented_by": s.consented_by,
        "sent_at": s.sent_at,
        "expires_at": s.expires_at,
        "score": s.score,
        "answered_at": s.answered_at,
    }


class SurveyService:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.settings = core.settings.survey
        self.metrics = SurveyMetrics(core)
        self.leader: Callable[[], bool] | None = None  # several nodes: the timers' node sweeps

    # ---- consent at the desk ------------------------------------------------------------------
    async def consent(self, ref: str, consent: bool, *, actor: str) -> dict[str, Any]:
        if not self.settings.enabled:
            raise Conflict("no survey is configured ([survey] channel)")
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                inc = await tx.get_incident(ref, for_update=True)
                s = await tx.survey_for(inc.id)
                if consent:
                    s = await self._consent(tx, inc, s, actor=actor)
                elif s is not None and s.state == "consented":
                    s.state = "withdrawn"
                    await tx.update_survey(s)
                    await tx.record("survey.withdrawn", incident=inc, actor=actor, data={"survey": s.id})
                elif s is not None and s.state != "withdrawn":
                    raise Conflict(f"{ref}: the survey went out already ({s.state})")
                return survey_view(s)
        raise AssertionError("a retried transaction ended without its result")

    async def _consent(self, tx: Tx, inc: Incident, s: Survey | None, *, actor: str) -> Survey:
        if inc.state in (S.CLOSED, S.CANCELLED):
            raise Conflict(f"{inc.reference} is {inc.state.value}; no survey now")
        if inc.subject_id is None or not inc.caller_number or number_key(inc.caller_number) is None:
            raise ValidationFailed({"caller_number": "a survey needs the caller's phone number"})
        now = self.core.clock.now()
        if s is None:
            s = await tx.insert_survey(
                Survey(0, inc.id, inc.subject_id, "consented", consented_at=now, consented_by=actor)
            )
        elif s.state == "withdrawn":
            s.state, s.consented_at, s.consented_by = "consented", now, actor
            await tx.update_survey(s)
        else:
            return s  # consent given already
        await tx.record("survey.consented", incident=inc, actor=actor, data={"survey": s.id})
        if self._due(inc, now):
            await self._send(tx, inc, s)
        return s

    async def survey(self, ref: str) -> dict[str, Any]:
        async with self.core.store.read() as tx:
            inc = await tx.get_incident(ref)
            return {"enabled": self.settings.enabled, **survey_view(await tx.survey_for(inc.id))}

    # ---- the send -----------------------------------------------------------------------------
    def _due(self, inc: Incident, now: float) -> bool:
        return (
            inc.state in _ENDED
            and inc.resolved_at is not None
            and now >= inc.resolved_at + self.settings.delay
        )

    async def on_transition(
        self, tx: Tx, inc: Incident, previous: IncidentState, target: IncidentState
    ) -> None:
        """An IncidentService hook: with no delay, the survey goes out with the resolution."""
        if target is not S.RESOLVED or not self.settings.enabled or self.settings.delay > 0:
            return
        s = await tx.survey_for(inc.id)
        if s is not None and s.state == "consented":
            await self._send(tx, inc, s)

    async def _send(self, tx: Tx, inc: Incident, s: Survey, *, text: str | None = None) -> None:
        now = self.core.clock.now()
        channel = self.settings.channel
        dispatch = await tx.insert_dispatch(inc.id, reason="survey", created_by="survey")
        policy = self.core.settings.triage.targets[inc.priority or Priority.P4]
        terms = Terms(
            purpose=Purpose.SURVEY,
            text=text or self.settings.template.format(ref=inc.reference),
            needs_ack=False,
            mode=DeliveryMode.LADDER,
            confirm=policy.confirm_timeout,
            ack=policy.ack_deadline,
        )
        plan = [Endpoint(channel, f"{SUBJECT_PREFIX}{s.subject_id}")]
        d = await new_delivery(
            self.core, tx, inc, dispatch.id, to=Recipient(RecipientKind.CALLER, "caller", plan), terms=terms
        )
        if text is None:  # the survey itself, not its clarifying message
            s.state, s.channel, s.delivery_id = "sent", channel, d.id
            s.sent_at, s.expires_at = now, now + self.settings.window
            await tx.update_survey(s)
            tx.after_commit(self.metrics.queued.inc)
        await tx.record(
            "survey.queued" if text is None else "survey.clarify",
            incident=inc,
            actor="survey",
            at=now,
            data={"survey": s.id, "delivery": d.id, "channel": channel},
        )
        tx.after_commit(self.core.engine.poke)

    async def caller_address(self, address: str) -> str | None:
        """The number behind `subject:<id>` at send time; None once erased or purged."""
        subject = address.removeprefix(SUBJECT_PREFIX)
        if not subject.isdigit():
            return None
        async with self.core.store.read() as tx:
            return await tx.subject_number(int(subject))

    async def run(self) -> None:
        while True:
            try:
                if self.settings.enabled and (self.leader is None or self.leader()):
                    await self.check()
            except Exception:
                log.exception("survey check failed; trying again next interval")
            await self.core.clock.sleep(self.settings.check_interval)

    async def check(self) -> int:
        """Send the surveys whose delay has passed; close those whose window has. Returns sends."""
        now = self.core.clock.now()
        sent = 0
        async for attempt in self.core.store.retrying():
            async with attempt as tx:
                sent = 0
                for s in await tx.surveys_in_state("consented"):
                    inc = await tx.get_incident(s.incident_id, for_update=True)
                    if not self._due(inc, now):
                        continue
                    if inc.caller_number is None:  # erased or purged meanwhile: nobody to ask
                        s.state = "withdrawn"
                        await tx.update_survey(s)
                        await tx.record(
                            "survey.withdrawn", incident=inc, data={"survey": s.id, "reason": "number erased"}
                        )
                        continue
                    await self._send(tx, inc, s)
                    sent += 1
                for s in await tx.surveys_in_state("sent"):
                    if s.expires_at is not None and s.expires_at <= now:
                        s.state = "expired"
                        await tx.update_survey(s)
                        await tx.record("survey.expired", incident_id=s.incident_id, data={"survey": s.id})
        return sent

    # ---- the reply ----------------------------------------------------------------------------
    async def on_text(self, channel: str, address: str, text: str) -> str | None:
        """A text from a number that is not a unit's: the survey's answer, or None (no open
        survey on this channel is waiting for that number)."""
        key = number_key(address)
        if not self.settings.enabled or channel != self.settings.channel or key is None:
            return None
        async for attempt in self.core.store.retrying(urgent=True):
            async with attempt as tx:
                now = self.core.clock.now()
                mine = [
                    s
                    for s, number in await tx.open_surveys_on(channel, now)
                    if number and number_key(number) == key
                ]
                if not mine:
                    return None
                s = mine[0]  # the latest survey sent to that number
                inc = await tx.get_incident(s.incident_id)
                score = parse_score(text)
                if score is None:
                    tx.after_commit(self.metrics.unclear.inc)
                    await tx.record(
                        "survey.unclear",
                        incident=inc,
                        actor="caller",
                        data={"survey": s.id, "length": len(text), "clarified_before": s.clarified},
                    )
                    if s.clarified:
                        return "survey reply ignored"
                    s.clarified = True
                    await tx.update_survey(s)
                    await self._send(tx, inc, s, text=self.settings.clarify.format(ref=inc.reference))
                    return "survey clarification"
                s.state, s.score, s.answered_at = "answered", score, now
                await tx.update_survey(s)
                await tx.record(
                    "survey.answered", incident=inc, actor="caller", data={"survey": s.id, "score": score}
                )
                tx.after_commit(self.metrics.responses.labels(str(score)).inc)
                tx.after_commit(functools.partial(self.metrics.score_total.inc, score))
                return f"survey score {score}"
        raise AssertionError("a retried transaction ended without its result")
