"""API tests run the real thing: a Gateway on a SQLite file, the API on 127.0.0.1 (port 0), and a
real aiohttp client. The only stand-in is the channel (tests/support/scripted.py), which accepts
every send and records it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from multidict import CIMultiDict

from adapters.base import Capabilities
from gateway.api import ApiServer
from gateway.app import Gateway
from gateway.clock import Clock
from gateway.settings import Settings
from tests.support.scripted import ScriptedChannel

T = TypeVar("T")
TOKENS = {
    "viewer": "viewer-token-0123456789",
    "dispatcher": "dispatcher-token-0123456789",
    "supervisor": "supervisor-token-0123456789",
    "engineer": "engineer-token-0123456789",
}
HOOK_SECRET = "hook-inbound-secret-42"
DESK_CAPS = Capabilities(max_length=1000, two_way=True)
CALLER = "+447700900121"


def make_settings(tmp_path: Path, *, ws_queue: int = 1000, extra_units: int = 0) -> Settings:
    fire = [
        {
            "id": f"ENG-{i}",
            "name": f"Engine {i}",
            "capabilities": ["fire"],
            "contact_plan": [{"channel": "desk", "address": f"eng-{i}"}],
        }
        for i in (1, 2)
    ]
    rescue = {
        "id": "RESCUE-1",
        "capabilities": ["rescue"],
        "contact_plan": [{"channel": "desk", "address": "rescue-1"}, {"channel": "hook", "address": "R1"}],
    }
    spare = [
        {
            "id": f"SPARE-{i}",
            "capabilities": ["fire"],
            "contact_plan": [{"channel": "desk", "address": f"spare-{i}"}],
        }
        for i in range(extra_units)
    ]
    return Settings(
        store={"url": f"sqlite+aiosqlite:///{tmp_path / 'callout.db'}"},
        api={
            "ws_queue": ws_queue,
            "tokens": [{"name": f"{role}-1", "role": role, "token": tok} for role, tok in TOKENS.items()],
        },
        triage={
            "rules": [
                {"category": "fire", "classification": "incident", "capabilities": ["fire"]},
                {"category": "enquiry", "classification": "enquiry"},
            ]
        },
        channels=[
            {"name": "desk", "kind": "scripted"},
            {
                "name": "hook",
                "kind": "webhook",
                "options": {"url": "http://127.0.0.1:9/hook", "inbound_secret": HOOK_SECRET},
            },
        ],
        resources=[*fire, rescue, *spare],
    )


@dataclass
class Reply:
    status: int
    body: Any
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)


@dataclass
class Api:
    gw: Gateway
    server: ApiServer
    session: aiohttp.ClientSession
    desk: ScriptedChannel
    hook: ScriptedChannel

    async def call(
        self,
        method: str,
        path: str,
        *,
        role: str | None = "dispatcher",
        json: Any = None,
        data: str | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        hdrs = dict(headers or {})
        if role is not None:
            hdrs["Authorization"] = f"Bearer {TOKENS[role]}"
        async with self.session.request(
            method, self.server.url + path, json=json, data=data, headers=hdrs
        ) as resp:
            text = await resp.text()
            body: Any = text
            if resp.content_type == "application/json":
                body = await resp.json()
            return Reply(resp.status, body, CIMultiDict(resp.headers))

    async def create(self, role: str = "dispatcher", **fields: Any) -> dict[str, Any]:
        body = {
            "nature": "smoke from a roof",
            "location": "1 High Street",
            "category": "fire",
            "impact": 1,
            "urgency": 1,
            "caller_number": CALLER,
            "caller_name": "Ada Lovelace",
            **fields,
        }
        r = await self.call("POST", "/api/v1/incidents", role=role, json=body)
        assert r.status == 201, r.body
        result: dict[str, Any] = r.body
        return result

    def ws(self, path: str = "/api/v1/events", role: str | None = "viewer", **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}
        return self.session.ws_connect(self.server.url + path, headers=headers, **kw)


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 5.0) -> T:
    """Retry an async check (that raises AssertionError) until it passes or `timeout` runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await check()
        except AssertionError:
            if loop.time() >= deadline:
                raise
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_api(
    settings: Settings, *, run: bool = True, clock: Clock | None = None
) -> AsyncIterator[Api]:
    desk, hook = ScriptedChannel("desk", caps=DESK_CAPS), ScriptedChannel("hook", caps=DESK_CAPS)
    async with (
        Gateway(settings, channels={"desk": desk, "hook": hook}, clock=clock) as gw,
        contextlib.AsyncExitStack() as stack,
    ):
        if run:
            await stack.enter_async_context(gw.running())
        server = await stack.enter_async_context(ApiServer(gw, "127.0.0.1", 0))
        session = await stack.enter_async_context(aiohttp.ClientSession())
        yield Api(gw=gw, server=server, session=session, desk=desk, hook=hook)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(make_settings(tmp_path)) as a:
        yield a


class EventLog:
    """Collects a WebSocket's JSON messages in the background."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._task = asyncio.create_task(self._read(), name="test.ws.read")

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.events.append(msg.json())

    def kinds(self, ref: str | None = None) -> list[str]:
        return [e["kind"] for e in self.events if ref is None or e["incident"] == ref]

    async def stop(self) -> None:
        await self.ws.close()
        await self._task
