"""/api/v1/incidents/{ref}/answers: the answers to the scripted questions of the incident's
category ([[triage.categories]]); an answer rule may raise impact or urgency (re-triaging)."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from gateway.api import context
from gateway.api.auth import Permission, require
from gateway.api.bodies import Body
from gateway.api.inputs import read_body

QuestionId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class AnswersBody(Body):
    answers: dict[QuestionId, str]


async def get_answers(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    gw = context.gateway(request)
    return web.json_response(await gw.practice.answers(request.match_info["ref"]))


async def post_answers(request: web.Request) -> web.Response:
    who = require(request, Permission.INCIDENT_WRITE)
    body = await read_body(request, AnswersBody)
    gw = context.gateway(request)
    return web.json_response(
        await gw.practice.answer(request.match_info["ref"], dict(body.answers), actor=who.actor)
    )


def routes() -> list[web.RouteDef]:
    one = "/api/v1/incidents/{ref}/answers"
    return [
        web.get(one, get_answers, name="incident-answers"),
        web.post(one, post_answers, name="incident-answer"),
    ]
