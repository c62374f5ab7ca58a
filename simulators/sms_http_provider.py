"""A small HTTP SMS provider, for integration tests and `callout simulate sms-http`.

Its API (written here, independently of `adapters`):
- `POST /messages` with `Authorization: Bearer <token>` (when a token is set) and a JSON body
  `{"to": "+447700900001", "text": "…", "reference": "…"}` → `200 {"id": "sms-000001",
  "status": "queued"}`; `400 {"error": …}` for a bad body or number, `401` for a bad token;
- `GET /messages` (and HEAD): a health answer;
- callbacks POSTed to `callback` as JSON, signed with HMAC-SHA256 of the raw body (or of
  "<timestamp>.<body>") in `X-Signature` (hex) and the POSIX time in `X-Timestamp`:
  receipts `{"type": "receipt", "id", "status": "delivered"|"undelivered", "error"}` and
  inbound replies `{"type": "inbound", "id", "from", "to", "text"}`.

Faults: per destination (`behaviours`): `ok`, `reject` (400 invalid number), `busy` (429 with
Retry-After), `fail` (500), `slow` (answers after `slow_delay`), `undeliverable` (receipt
"undelivered"), `silent` (no receipt); `fail_next(500, 429, …)` forces the next answers;
`inject_inbound` sends a reply now; `auto_reply` answers every delivered message.

Client references: a send whose non-empty `reference` the provider has already accepted is not
sent again; it is answered with the first message's id and counted in `duplicates_dropped` (as
providers that honour a client reference do), so a client's retry costs no second SMS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import re
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

from aiohttp import ClientError, ClientSession, ClientTimeout, web

log = logging.getLogger(__name__)
NUMBER = re.compile(r"^\+?[0-9]{6,15}$")


@dataclass
class Received:
    to: str
    text: str
    reference: str
    status: int
    id: str = ""


@dataclass
class SmsProvider:
    port: int = 0
    token: str = ""  # required bearer token ("" = no auth)
    secret: str = "provider-secret"  # noqa: S105 (the simulator's callback signing key)
    callback: str = ""  # URL for receipts and replies ("" = none)
    signed_payload: Literal["body", "timestamp.body"] = "body"
    receipt_delay: float = 0.05
    behaviours: dict[str, str] = field(default_factory=dict)
    default: str = "ok"
    slow_delay: float = 2.0
    auto_reply: str = ""
    reply_delay: float = 0.05
    echo: bool = False
    received: list[Received] = field(default_factory=list)
    callbacks: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (HTTP status, body)
    duplicates_dropped: int = 0
    _accepted: dict[str, str] = field(default_factory=dict, repr=False)  # reference -> message id

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/messages", self._send)
        app.router.add_get("/messages", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = self._runner.addresses[0][1]
        self._session = ClientSession(timeout=ClientTimeout(total=5))
        self._ids = itertools.count(1)
        self._forced: deque[int] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._session.close()
        await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/messages"

    def fail_next(self, *statuses: int) -> None:
        """The next sends get these HTTP statuses, in order."""
        self._forced.extend(statuses)

    async def inject_inbound(self, sender: str, text: str, *, to: str = "CALLOUT") -> int:
        """A handset replies now; returns callout's HTTP status for the callback."""
        return await self._post_callback(
            {"type": "inbound", "id": f"in-{next(self._ids):06d}", "from": sender, "to": to, "text": text}
        )

    def signed(self, body: bytes, stamp: str) -> dict[str, str]:
        payload = body if self.signed_payload == "body" else stamp.encode() + b"." + body
        signature = hmac.new(self.secret.encode(), payload, hashlib.sha256).hexdigest()
        return {"Content-Type": "application/json", "X-Signature": signature, "X-Timestamp": stamp}

    # ---- handlers -------------------------------------------------------------------------------
    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "messages": len(self.received)})

    async def _send(self, request: web.Request) -> web.Response:
        if self.token and request.headers.get("Authorization", "") != f"Bearer {self.token}":
            return web.json_response({"error": "bad credentials"}, status=401)
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "body must be an object"}, status=400)
        to, text, reference = body.get("to"), body.get("text"), str(body.get("reference", ""))
        if not isinstance(to, str) or not isinstance(text, str) or not text:
            return web.json_response({"error": "'to' and 'text' are required"}, status=400)
        if reference and reference in self._accepted:
            self.duplicates_dropped += 1
            return web.json_response({"id": self._accepted[reference], "status": "queued"})
        behaviour = self.behaviours.get(to, self.default)
        status = self._forced.popleft() if self._forced else 200
        if status == 200:
            if behaviour == "reject" or not NUMBER.match(to):
                status = 400
            else:
                status = {"busy": 429, "fail": 500}.get(behaviour, 200)
        if behaviour == "slow":
            await asyncio.sleep(self.slow_delay)
        rec = Received(to, text, reference, status)
        self.received.append(rec)
        if status != 200:
            if self.echo:
                print(f"[sms-http] {to} <- {text!r} -> HTTP {status}", flush=True)
            headers = {"Retry-After": "1"} if status == 429 else {}
            error = {400: "invalid destination number", 429: "too many requests"}.get(status, "server error")
            return web.json_response({"error": error}, status=status, headers=headers)
        rec.id = f"sms-{next(self._ids):06d}"
        if reference:
            self._accepted[reference] = rec.id
        if self.echo:
            print(f"[sms-http] {to} <- {text!r} -> {rec.id}", flush=True)
        if self.callback and behaviour != "silent":
            self._start(self._receipt(rec, delivered=behaviour != "undeliverable"))
        return web.json_response({"id": rec.id, "status": "queued"})

    # ---- callbacks ------------------------------------------------------------------------------
    def _start(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name="sms-http-provider.callback")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _receipt(self, rec: Received, *, delivered: bool) -> None:
        await asyncio.sleep(self.receipt_delay)
        doc: dict[str, Any] = {"type": "receipt", "id": rec.id, "status": "delivered"}
        if not delivered:
            doc |= {"status": "undelivered", "error": "absent subscriber"}
        await self._post_callback(doc)
        if delivered and self.auto_reply:
            await asyncio.sleep(self.reply_delay)
            await self.inject_inbound(rec.to, self.auto_reply)

    async def _post_callback(self, doc: dict[str, Any], tries: int = 3) -> int:
        if not self.callback:
            return 0
        raw = json.dumps(doc).encode()
        status = 0
        for attempt in range(tries):
            try:
                headers = self.signed(raw, str(int(time.time())))
                async with self._session.post(self.callback, data=raw, headers=headers) as resp:
                    status = resp.status
            except (ClientError, TimeoutError) as exc:
                log.warning("sms-http provider: callback failed: %r", exc)
                status = 0
            if 200 <= status < 300 or 400 <= status < 500:
                break
            await asyncio.sleep(0.2 * (attempt + 1))
        self.callbacks.append((status, doc))
        return status


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `callout simulate sms-http`."""
    p.add_argument("--port", type=int, default=8095)
    p.add_argument(
        "--callback",
        default="",
        help="callout's callback URL, e.g. http://127.0.0.1:8080/api/v1/channels/sms/callback",
    )
    p.add_argument("--secret", default="provider-secret", help="HMAC-SHA256 key for callbacks")
    p.add_argument("--token", default="", help="bearer token required on sends")
    p.add_argument("--receipt-delay", type=float, default=1.0, help="seconds before each receipt")
    p.add_argument("--reply", default="", help="text each handset sends back after delivery (e.g. ACK)")


async def main(
    *,
    port: int = 8095,
    callback: str = "",
    secret: str = "provider-secret",  # noqa: S107 (the simulator's demo key)
    token: str = "",
    receipt_delay: float = 1.0,
    reply: str = "",
) -> int:
    provider = SmsProvider(
        port=port,
        callback=callback,
        secret=secret,
        token=token,
        receipt_delay=receipt_delay,
        auto_reply=reply,
        echo=True,
    )
    async with provider:
        print(f"sms-http provider on {provider.url}; callbacks to {callback or '(none)'}", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
    return 0
