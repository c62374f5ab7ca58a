"""I/O of the webhook channel: one aiohttp session; each send is one POST."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, Self

import aiohttp

from adapters.base import Capabilities, Channel, HealthState, OutboundMessage, SendReceipt
from adapters.webhook import codec
from adapters.webhook.options import Options

log = logging.getLogger(__name__)


class WebhookChannel(Channel):
    kind = "webhook"

    def __init__(self, *, name: str, options: Options) -> None:
        super().__init__(
            name=name,
            capabilities=Capabilities(
                max_length=options.max_length, max_parts=1, confirms_delivery=False, two_way=True
            ),
        )
        self.options = options
        self._session: aiohttp.ClientSession | None = None
        self._failures = 0

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.options.timeout), headers=self.options.headers
        )
        self.set_health(HealthState.UP, "ready")
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
        self.set_health(HealthState.DOWN, "stopped")

    async def send(self, message: OutboundMessage) -> SendReceipt:
        if self._session is None:
            raise self.fail("channel not started", temporary=True)
        url = codec.request_url(self.options.url, message.address)
        try:
            async with self._session.post(
                url, data=codec.request_body(message), headers={"Content-Type": "application/json"}
            ) as resp:
                body = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._failures += 1
            if self._failures >= self.options.down_after:
                self.set_health(HealthState.DOWN, f"{self._failures} failed connections: {exc!r}")
            raise self.fail(
                f"connection failed: {type(exc).__name__}", temporary=True, endpoint=message.address
            ) from exc
        self._failures = 0
        self.set_health(HealthState.UP, "ready")
        outcome = codec.interpret(status, body)
        evidence: dict[str, Any] = {"http_status": status}
        if not outcome.ok:
            raise self.fail(outcome.reason, temporary=outcome.temporary, endpoint=message.address, **evidence)
        return SendReceipt(channel_ref=outcome.channel_ref or message.message_id, evidence=evidence)


def build(name: str, options: dict[str, Any], max_length: int | None = None) -> Channel:
    opts = Options(**options)
    if max_length is not None:
        opts = opts.model_copy(update={"max_length": max_length})
    return WebhookChannel(name=name, options=opts)
