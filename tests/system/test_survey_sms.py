"""The caller's satisfaction survey end to end over SMPP: the desk records consent through the API,
resolving the incident sends the survey through the engine to the SMSC simulator, the simulated
phone replies "4" (a deliver_sm), and GET /api/v1/kpis and /metrics show the score. A reply that
is not 1-5 gets one clarifying SMS. Real gateway, real SMPP channel, real sockets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from adapters.smpp.channel import SmppChannel, build
from gateway.api import ApiServer
from gateway.app import Gateway
from gateway.domain.states import DeliveryState, Purpose, RecipientKind, UnitStatus
from gateway.settings import Settings
from simulators.smsc import Smsc
from tests.support.waiting import until

TOKEN = "dispatcher-token-0123456789"
CALLER = "+447700900123"
UNIT = "+447700900001"
FIRE = {"nature": "bin fire", "location": "2 Mill Lane", "category": "fire", "impact": 2, "urgency": 2}


def smpp_options(port: int) -> dict[str, Any]:
    return {
        "port": port,
        "system_id": "callout",
        "password": "secret",
        "source_addr": "CALLOUT",
        "reconnect_min": 0.05,
        "reconnect_max": 0.2,
        "send_timeout": 5,
        "start_wait": 2,
    }


def settings(tmp_path: Path, port: int, **survey: Any) -> Settings:
    return Settings(
        store={"url": f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"},
        api={"tokens": [{"name": "desk-1", "role": "dispatcher", "token": TOKEN}]},
        channels=[{"name": "sms", "kind": "smpp", "options": smpp_options(port)}],
        resources=[
            {"id": "ENG-1", "capabilities": ["fire"], "contact_plan": [{"channel": "sms", "address": UNIT}]}
        ],
        survey={"channel": "sms", "window": 3600, **survey},
    )


def smpp(port: int) -> SmppChannel:
    ch = build("sms", smpp_options(port))
    assert isinstance(ch, SmppChannel)
    return ch


def texts_to(sim: Smsc, number: str) -> list[str]:
    return [text for dest, text in sim.texts if dest.lstrip("+") == number.lstrip("+")]


async def test_a_resolved_incident_sends_the_survey_and_the_reply_reaches_the_kpis(tmp_path: Path):
    async with Smsc(receipt_delay=0.05) as sim:
        gw_settings = settings(tmp_path, sim.port)
        async with (
            Gateway(gw_settings, channels={"sms": smpp(sim.port)}) as gw,
            gw.running(),
            ApiServer(gw, "127.0.0.1", 0) as api,
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        ):
            inc = await gw.incidents.create({**FIRE, "caller_number": CALLER}, source="desk", actor="test")
            async with http.post(
                f"{api.url}/api/v1/incidents/{inc.reference}/survey", json={"consent": True}
            ) as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["state"] == "consented"
            await gw.dispatch.dispatch(inc.reference, ["ENG-1"], actor="test")
            await until(lambda: len(texts_to(sim, UNIT)) == 1, "the dispatch reaches the unit")
            assert texts_to(sim, CALLER) == []  # nothing to the caller before the resolution

            await gw.stand_down.resolve(inc.reference, actor="test")
            await until(lambda: len(texts_to(sim, CALLER)) == 1, "the survey reaches the caller")
            assert f"about {inc.reference}" in texts_to(sim, CALLER)[0]

            async def survey_delivered() -> bool:
                async with gw.store.read() as tx:
                    ds = [d for d in await tx.deliveries_for_incident(inc.id) if d.purpose is Purpose.SURVEY]
                return len(ds) == 1 and ds[0].state is DeliveryState.DELIVERED  # the SMSC's receipt

            await until(survey_delivered, "the survey's delivery receipt")
            async with gw.store.read() as tx:
                (survey,) = [
                    d for d in await tx.deliveries_for_incident(inc.id) if d.purpose is Purpose.SURVEY
                ]
                (attempt,) = await tx.attempts_for([survey.id])
                audit = await tx.audit_for_incident(inc.id)
            assert survey.recipient_kind is RecipientKind.CALLER and not survey.needs_ack
            # The outbox and the audit trail name the subject row, never the caller's number.
            assert attempt.address.startswith("subject:")
            assert "900123" not in str(audit) and "900123" not in str(survey.plan)

            sim.inject_mo(CALLER.lstrip("+"), "4")

            async def answered() -> bool:
                async with http.get(f"{api.url}/api/v1/incidents/{inc.reference}/survey") as r:
                    return (await r.json())["state"] == "answered"

            await until(answered, "the reply stored as the survey's answer")
            async with http.get(f"{api.url}/api/v1/kpis") as r:
                satisfaction = (await r.json())["satisfaction"]
            assert satisfaction == {
                "surveys_sent": 1,
                "responses": 1,
                "mean_score": 4.0,
                "response_rate": 1.0,
                "scores": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0},
            }
            async with http.get(f"{api.url}/metrics") as r:
                metrics = await r.text()
            assert 'callout_survey_responses_total{score="4"} 1.0' in metrics
            assert "callout_survey_score_total 4.0" in metrics
            async with gw.store.read() as tx:
                unit = await tx.get_resource("ENG-1")
                kinds = [e["kind"] for e in await tx.audit_for_incident(inc.id)]
            # The caller's "4" is a score, not a unit's ON SCENE (the same digit in the reply grammar).
            assert unit.status is UnitStatus.AVAILABLE
            assert kinds.count("survey.answered") == 1 and "survey.queued" in kinds


async def test_an_unclear_reply_gets_one_clarifying_message(tmp_path: Path):
    sim = Smsc(receipt_delay=0.05)
    async with (
        sim,
        Gateway(settings(tmp_path, sim.port), channels={"sms": smpp(sim.port)}) as gw,
        gw.running(),
    ):
        inc = await gw.incidents.create(
            {**FIRE, "category": "enquiry", "caller_number": CALLER}, source="desk", actor="test"
        )
        await gw.survey.consent(inc.reference, True, actor="test")
        await gw.stand_down.resolve(inc.reference, actor="test")
        await until(lambda: len(texts_to(sim, CALLER)) == 1, "the survey")

        sim.inject_mo(CALLER.lstrip("+"), "very good thanks")
        await until(lambda: len(texts_to(sim, CALLER)) == 2, "the clarifying message")
        assert "one number from 1 to 5" in texts_to(sim, CALLER)[1]
        sim.inject_mo(CALLER.lstrip("+"), "great")
        sim.inject_mo(CALLER.lstrip("+"), "5!")

        async def answered() -> bool:
            return (await gw.survey.survey(inc.reference))["score"] == 5

        await until(answered, "the score after the clarification")
        assert len(texts_to(sim, CALLER)) == 2  # a second unclear reply is ignored, not answered
