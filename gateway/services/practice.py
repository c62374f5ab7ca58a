"""Per-category practice at the desk ([[triage.categories]], README "Per-category practice"):
the scripted questions' answers stored on the incident, and the answer rules that raise impact or
urgency. A raise re-triages the incident in the same transaction and its reason is written into
every recommendation's rationale and the audit trail (`incident.raised_by_answers`)."""

from __future__ import annotations

from typing import Any

from gateway.domain.states import IncidentState as S
from gateway.errors import ValidationFailed
from gateway.services.core import Core
from gateway.services.incidents import IncidentService
from gateway.settings_sections import CategoryPractice
from gateway.triage import missing_answers, practice_for, raise_by_answers

MAX_ANSWER = 500


class PracticeService:
    def __init__(self, core: Core, incidents: IncidentService) -> None:
        self.core = core
        self.incidents = incidents

    def practice(self, category: str | None) -> CategoryPractice | None:
        return practice_for(category, self.core.settings.triage.categories)

    async def answers(self, ref: str) -> dict[str, Any]:
        async with self.core.store.read() as tx:
            inc = await tx.get_incident(ref)
            stored = await tx.answers_of(inc.id)
        practice = self.practice(inc.category)
        plain = {q: str(v["answer"]) for q, v in stored.items()}
        return {
            "incident": inc.reference,
            "category": inc.category,
            "answers": stored,
            "missing": missing_answers(practice, plain),
        }

    async def answer(self, ref: str, given: dict[str, str], *, actor: str) -> dict[str, Any]:
        async with self.core.store.write() as tx:
            inc = await tx.get_incident(ref, for_update=True)
            practice = self.practice(inc.category)
            self._check(inc.reference, practice, given)
            assert practice is not None
            now = self.core.clock.now()
            clean = {q: a.strip() for q, a in given.items()}
            await tx.put_answers(inc.id, clean, at=now, by=actor)
            await tx.record(
                "incident.answered", incident=inc, actor=actor, at=now, data={"questions": sorted(clean)}
            )
            stored = await tx.answers_of(inc.id)
            plain = {q: str(v["answer"]) for q, v in stored.items()}
            reasons: tuple[str, ...] = ()
            if inc.impact is not None and inc.urgency is not None:
                raised = raise_by_answers(inc.impact, inc.urgency, practice, plain)
                if raised.reasons and inc.state in (S.NEW, S.TRIAGED):
                    reasons = raised.reasons
                    before = {"impact": inc.impact, "urgency": inc.urgency, "priority": inc.priority}
                    inc.impact, inc.urgency = raised.impact, raised.urgency
                    await tx.update_incident(inc)
                    await self.incidents.triage_in(tx, inc, actor=actor)
                    note = "raised by answers: " + "; ".join(reasons)
                    inc.recommendation = [
                        {**r, "rationale": f"{r['rationale']}; {note}"} for r in inc.recommendation
                    ]
                    await tx.update_incident(inc)
                    await tx.record(
                        "incident.raised_by_answers",
                        incident=inc,
                        actor=actor,
                        at=now,
                        data={
                            "before": before,
                            "impact": inc.impact,
                            "urgency": inc.urgency,
                            "priority": inc.priority,
                            "reasons": list(reasons),
                        },
                    )
            return {
                "incident": inc.reference,
                "answers": stored,
                "missing": missing_answers(practice, plain),
                "raised": list(reasons),
                "priority": inc.priority.value if inc.priority else None,
            }

    @staticmethod
    def _check(ref: str, practice: CategoryPractice | None, given: dict[str, str]) -> None:
        if practice is None:
            raise ValidationFailed({"answers": f"{ref}'s category has no scripted questions"})
        if not given:
            raise ValidationFailed({"answers": "give at least one answer"})
        questions = {q.id: q for q in practice.questions}
        problems: dict[str, str] = {}
        for qid, answer in given.items():
            q = questions.get(qid)
            if q is None:
                problems[qid] = f"not a question of category {practice.category}"
            elif not answer.strip():
                problems[qid] = "must not be empty"
            elif len(answer) > MAX_ANSWER:
                problems[qid] = f"at most {MAX_ANSWER} characters"
            elif q.choices and answer.strip() not in q.choices:
                problems[qid] = f"must be one of {', '.join(q.choices)}"
        if problems:
            raise ValidationFailed(problems)
