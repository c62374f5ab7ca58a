"""PostgreSQL stops and comes back under load: the API answers 503 (never 500) while the store is
away, /readyz says not ready, the gateway reconnects by itself, and nothing it accepted is lost.

A private PostgreSQL server (tests/support/pg_server.py) is stopped for about two seconds while
four desk clients create and dispatch incidents through the real HTTP API."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from gateway.api import ApiServer
from gateway.app import Gateway
from gateway.clock import SystemClock
from tests.support.engine import FIRE, make_settings, scripted_channels
from tests.support.pg_server import PgServer

TOKEN = "chaos-dispatcher-token-0001"


async def test_the_store_restarting_under_load_gives_503s_and_loses_nothing() -> None:
    pg = PgServer()
    try:
        pg.start()
        settings = make_settings(
            pg.url, api={"tokens": [{"name": "desk", "role": "dispatcher", "token": TOKEN}]}
        )
        async with (
            Gateway(settings, clock=SystemClock(), channels=scripted_channels()) as gw,
            gw.running(),
            ApiServer(gw, host="127.0.0.1", port=0) as api,
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http,
        ):
            statuses: dict[int, int] = {}
            accepted: list[str] = []
            dispatched: list[str] = []
            ready_codes: list[int] = []
            stop_at = time.monotonic() + 7

            async def post(path: str, body: object) -> dict[str, object] | None:
                try:
                    async with http.post(api.url + path, json=body) as r:
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                        if r.status == 503:
                            assert "Retry-After" in r.headers
                        return dict(await r.json()) if r.status < 300 else None
                except aiohttp.ClientError:
                    statuses[-1] = statuses.get(-1, 0) + 1
                    return None

            async def desk() -> None:
                while time.monotonic() < stop_at:
                    made = await post("/api/v1/incidents", FIRE)
                    if made is None:
                        await asyncio.sleep(0.05)
                        continue
                    ref = str(made["reference"])
                    accepted.append(ref)
                    if await post(f"/api/v1/incidents/{ref}/dispatch", {"resources": ["ENG-1"]}):
                        dispatched.append(ref)

            async def probe() -> None:
                while time.monotonic() < stop_at:
                    async with http.get(api.url + "/readyz") as r:
                        ready_codes.append(r.status)
                    await asyncio.sleep(0.1)

            async def outage() -> None:
                await asyncio.sleep(2)
                await asyncio.to_thread(pg.stop)
                await asyncio.sleep(2)
                await asyncio.to_thread(pg.start)

            await asyncio.gather(*(desk() for _ in range(4)), probe(), outage())

            assert statuses.get(500, 0) == 0, statuses
            assert statuses.get(503, 0) > 0, statuses  # the outage was seen, and answered as such
            assert 503 in ready_codes and ready_codes[-1] == 200
            assert len(accepted) > 10
            async with gw.store.read() as tx:  # everything a 2xx accepted is there
                for ref in accepted:
                    inc = await tx.get_incident(ref)
                    if ref in dispatched:
                        assert len(await tx.deliveries_for_incident(inc.id)) == 1
    finally:
        pg.remove()
