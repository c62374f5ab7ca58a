"""/api/v1/incidents/{ref}/survey: the caller's consent to the satisfaction survey by SMS
(`[survey]`, gateway/services/survey.py), and where the survey stands (sent, answered, the score)."""

from __future__ import annotations

from aiohttp import web
from pydantic import StrictBool

from gateway.api import context
from gateway.api.auth import Permission, require
from gateway.api.bodies import Body
from gateway.api.inputs import read_body
from gateway.api.views import View


class SurveyBody(Body):
    """`consent`: the caller agreed to one SMS after the incident is resolved (false withdraws it
    before it goes out)."""

    consent: StrictBool


class SurveyView(View):
    enabled: bool | None = None  # GET: whether [survey] is configured at all
    consent: bool
    state: str | None  # consented, sent, answered, expired, withdrawn; None: never asked
    score: int | None = None


async def get_survey(request: web.Request) -> web.Response:
    require(request, Permission.READ)
    gw = context.gateway(request)
    return web.json_response(await gw.survey.survey(request.match_info["ref"]))


async def post_survey(request: web.Request) -> web.Response:
    who = require(request, Permission.INCIDENT_WRITE)
    body = await read_body(request, SurveyBody)
    gw = context.gateway(request)
    answer = await gw.survey.consent(request.match_info["ref"], body.consent, actor=who.actor)
    return web.json_response(answer)


def routes() -> list[web.RouteDef]:
    one = "/api/v1/incidents/{ref}/survey"
    return [
        web.get(one, get_survey, name="incident-survey"),
        web.post(one, post_survey, name="incident-survey-consent"),
    ]
