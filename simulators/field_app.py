"""A field-crew app reached by webhook: it receives callout's JSON messages over HTTP and
answers like a crew member would, through callout's inbound API.

Contract (README, "webhook channel"): callout POSTs `{"message_id", "address", "text", "parts",
"incident", "priority", "needs_ack", "purpose"}` to `/<channel>/<address>`; the app replies by
POSTing `{"type": "reply", "address", "text"}` to `<callout>/api/v1/channels/<channel>/inbound`
with the header `X-Callout-Secret`; the phone's GPS goes the same way as
`{"type": "position", "address", "lat", "lon", "observed_at"}` (`send_position`). Written from
that contract; it imports nothing of adapters.

Behaviours per address (fault injection): `walk` (ack, then en route, on scene, clear), `ack`,
`silent` (accepts, never answers), `reject` (HTTP 404: no such device), `fail` (HTTP 503), `decline`,
`hang` (takes the message, then never sends the HTTP response: a retry is what tests the key).

Idempotency (draft-ietf-httpapi-idempotency-key-header): a POST whose `Idempotency-Key` the app
has already taken is not acted on again; it is answered with the first answer and counted in
`duplicates_dropped`.
`respond_delay`: seconds the app takes to answer each POST (a slow link). Every request is kept in
`received`, so a test can count how often each `message_id` arrived. A POST whose `message_id` is
still being handled for another sender that is still connected is also noted in `overlapping`
(two senders holding one message at once); a sender that went away no longer counts.

"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import ClientSession, web

log = logging.getLogger(__name__)
WALK = ("ACK", "EN ROUTE", "ON SCENE", "CLEAR")


@dataclass
class Received:
    channel: str
    address: str
    body: dict[str, Any]
    status: int


@dataclass
class FieldApp:
    port: int = 0
    callout: str = "http://127.0.0.1:8080"
    secret: str = ""
    behaviours: dict[str, str] = field(default_factory=dict)
    default: str = "walk"
    delay: float = 1.5
    respond_delay: float = 0.0
    echo: bool = False
    received: list[Received] = field(default_factory=list)
    duplicates_dropped: int = 0
    overlapping: list[str] = field(default_factory=list)
    _open: dict[str, list[web.Request]] = field(default_factory=dict, repr=False)
    _answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict, repr=False)

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/{channel}/{address}", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._session = ClientSession()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = asyncio.Event()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing.set()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._session.close()
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _receive(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        message_id = str(body.get("message_id"))
        others = self._open.setdefault(message_id, [])
        if any(r.transport is not None and not r.transport.is_closing() for r in others):
            self.overlapping.append(message_id)
        others.append(request)
        try:
            return await self._handle(request, body)
        finally:
            others.remove(request)

    async def _handle(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        channel, address = request.match_info["channel"], request.match_info["address"]
        key = request.headers.get("Idempotency-Key")
        if key is not None and key in self._answers:
            self.duplicates_dropped += 1
            status, answer = self._answers[key]
            return web.json_response(answer, status=status)
        behaviour = self.behaviours.get(address, self.default)
        status = {"reject": 404, "fail": 503}.get(behaviour, 200)
        self.received.append(Received(channel, address, body, status))
        if self.respond_delay:
            await asyncio.sleep(self.respond_delay)
        answer = {"id": f"app-{len(self.received)}"} if status == 200 else {"error": behaviour}
        if key is not None and status == 200:  # a failure is not kept: the retry is a new try
            self._answers[key] = (status, answer)
        if behaviour == "hang":
            await self._closing.wait()  # the client gives up long before; the app then closes
        if self.echo:
            print(f"[field-app] {channel}/{address} <- {body.get('text')!r} -> HTTP {status}", flush=True)
        if status != 200:
            return web.json_response(answer, status=status)
        if body.get("needs_ack") and behaviour in ("walk", "ack", "decline"):
            words = {"walk": WALK, "ack": WALK[:1], "decline": ("DECLINE",)}[behaviour]
            task = asyncio.create_task(self._answer(channel, address, words), name=f"field-app.{address}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response(answer)

    async def send_position(
        self, channel: str, address: str, lat: float, lon: float, observed_at: float | None = None
    ) -> tuple[int, dict[str, Any]]:
        """The crew's phone reports its GPS fix; returns callout's HTTP status and answer."""
        body: dict[str, Any] = {"type": "position", "address": address, "lat": lat, "lon": lon}
        if observed_at is not None:
            body["observed_at"] = observed_at
        async with self._session.post(
            f"{self.callout}/api/v1/channels/{channel}/inbound",
            json=body,
            headers={"X-Callout-Secret": self.secret},
        ) as resp:
            return resp.status, await resp.json()

    async def _answer(self, channel: str, address: str, words: tuple[str, ...]) -> None:
        for word in words:
            await asyncio.sleep(self.delay)
            url = f"{self.callout}/api/v1/channels/{channel}/inbound"
            try:
                async with self._session.post(
                    url,
                    json={"type": "reply", "address": address, "text": word},
                    headers={"X-Callout-Secret": self.secret},
                ) as resp:
                    if resp.status >= 300:
                        log.warning("field-app: callout answered %d to %s", resp.status, word)
            except OSError as exc:
                log.warning("field-app: cannot reach callout: %s", exc)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--callout", default="http://127.0.0.1:8080", help="callout's base URL for replies")
    p.add_argument("--channel", default="app", help="the callout channel name replies go to")
    p.add_argument("--secret", default="", help="that channel's inbound_secret")


async def main(*, port: int, callout: str, channel: str, secret: str) -> int:
    async with FieldApp(port=port, callout=callout, secret=secret, echo=True) as app:
        print(f"field-app listening on {app.url}/{channel}/<address>; replies go to {callout}", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
    return 0
