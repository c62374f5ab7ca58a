"""The answers to an incident's scripted questions ([[triage.categories]])."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.store import schema as t
from gateway.store.unit_of_work import UnitOfWork


class AnswerQueries(UnitOfWork):
    async def answers_of(self, incident_id: int) -> dict[str, dict[str, object]]:
        """{question: {"answer", "answered_at", "answered_by"}} for one incident."""
        a = t.incident_answers.c
        q = sa.select(a.question, a.answer, a.answered_at, a.answered_by).where(a.incident_id == incident_id)
        return {
            r.question: {"answer": r.answer, "answered_at": r.answered_at, "answered_by": r.answered_by}
            for r in (await self._run(q)).all()
        }

    async def put_answers(self, incident_id: int, answers: dict[str, str], *, at: float, by: str) -> None:
        """Store answers, replacing earlier answers to the same questions."""
        if not answers:
            return
        a = t.incident_answers.c
        await self._run(
            sa.delete(t.incident_answers).where(a.incident_id == incident_id, a.question.in_(sorted(answers)))
        )
        for question, answer in sorted(answers.items()):
            await self._run(
                sa.insert(t.incident_answers).values(
                    incident_id=incident_id, question=question, answer=answer, answered_at=at, answered_by=by
                )
            )
