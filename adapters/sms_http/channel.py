"""I/O of the sms_http channel: one aiohttp session; each send is one POST to the provider.

Receipts and replies come back as provider callbacks, which the API route hands to
`accept_callback` (signature checked in the codec, then events emitted). After `down_after`
consecutive connection failures the channel is down; a named task `sms_http.<name>.probe` then
looks at the provider every `probe_interval` seconds and brings it back up when it answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from adapters.base import Capabilities, Channel, HealthState, OutboundMessage, SendReceipt
from adapters.sms_http import codec
from adapters.sms_http.options import Options

log = logging.getLogger(__name__)


class SmsHttpChannel(Channel):
    kind = "sms_http"

    def __init__(self, *, name: str, options: Options, clock: Callable[[], float] = time.time) -> None:
        super().__init__(
            name=name,
            # Receipts and replies arrive only as signed callbacks: none without a secret.
            capabilities=Capabilities(
                max_length=options.max_length,
                max_parts=1,
                confirms_delivery=bool(options.signature_secret),
                two_way=bool(options.signature_secret),
            ),
        )
        self.options = options
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._failures = 0
        self._down = asyncio.Event()
        self._probe: asyncio.Task[None] | None = None

    async def _open(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.options.timeout))
        self.stack.push_async_callback(self._close_session)  # also if opening fails half-way
        self._down = asyncio.Event()
        self._probe = self.start_task("probe", self._probe_loop)
        self.set_health(HealthState.UP, "ready")

    async def _close(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:  # it uses the session: let it finish before the session closes
            probe.cancel()
            await asyncio.wait([probe])
        await self._close_session()
        self.set_health(HealthState.DOWN, "stopped")

    async def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(self, message: OutboundMessage) -> SendReceipt:
        if self._session is None:
            raise self.fail("channel not started", temporary=True, endpoint=message.address)
        o = self.options
        try:
            async with self._session.post(
                o.url, data=codec.request_body(o, message), headers=codec.request_headers(o)
            ) as resp:
                body = await resp.read()
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._failures += 1
            if self._failures >= o.down_after:
                self.set_health(HealthState.DOWN, f"{self._failures} failed connections: {exc!r}")
                self._down.set()
            raise self.fail(
                f"connection failed: {type(exc).__name__}", temporary=True, endpoint=message.address
            ) from exc
        self._reachable()
        outcome = codec.interpret(o, status, body, retry_after)
        evidence: dict[str, Any] = {"http_status": status}
        if outcome.provider_id:
            evidence["provider_id"] = outcome.provider_id
        if not outcome.ok:
            if outcome.retry_after is not None:
                evidence["retry_after"] = outcome.retry_after
            raise self.fail(outcome.reason, temporary=outcome.temporary, endpoint=message.address, **evidence)
        return SendReceipt(channel_ref=outcome.provider_id, delivered=outcome.delivered, evidence=evidence)

    def accept_callback(self, headers: Mapping[str, str], body: bytes) -> int:
        """A provider callback (the API route's whole job is to call this). Verifies the
        signature, emits the receipts and replies, and returns how many events it emitted.
        Raises codec.CallbackRejected (with `http_status`) for a bad signature or body."""
        events = codec.parse_callback(self.options, headers, body, self._clock())
        for event in events:
            self.emit(event)
        return len(events)

    def _reachable(self) -> None:
        self._failures = 0
        self._down.clear()
        self.set_health(HealthState.UP, "ready")

    async def _probe_loop(self) -> None:
        """While down, any HTTP answer from the provider's host means it is reachable again."""
        while True:
            await self._down.wait()
            await asyncio.sleep(self.options.probe_interval)
            if self._session is None or not self._down.is_set():
                continue
            try:
                async with self._session.head(self.options.url) as resp:
                    await resp.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.debug("sms_http %s: provider still unreachable: %r", self.name, exc)
                continue
            log.info("sms_http %s: provider reachable again", self.name)
            self._reachable()


def build(name: str, options: dict[str, Any], max_length: int | None = None) -> Channel:
    opts = Options(**(options if max_length is None else {**options, "max_length": max_length}))
    return SmsHttpChannel(name=name, options=opts)
