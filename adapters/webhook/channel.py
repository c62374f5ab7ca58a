"""I/O of the webhook channel: one aiohttp session; each send is one POST. While the channel is
down (the endpoint stopped answering), a probe task tries a TCP connection to the URL's host and
brings the channel back up when one opens, since the engine sends nothing to a down channel."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

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

    async def _open(self) -> None:
        self._session = session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.options.timeout), headers=self.options.headers
        )
        self.stack.push_async_callback(session.close)
        self.start_task("probe", self._probe_while_down)
        self.set_health(HealthState.UP, "ready")

    async def _close(self) -> None:
        self.set_health(HealthState.DOWN, "stopped")

    async def _probe_while_down(self) -> None:
        parts = urlsplit(self.options.url.replace("{address}", "probe"))
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        while True:
            await asyncio.sleep(self.options.probe_interval)
            if self.health.state is not HealthState.DOWN:
                continue
            try:
                async with asyncio.timeout(self.options.timeout):
                    _, writer = await asyncio.open_connection(host, port)
                writer.close()
                await writer.wait_closed()
            except (OSError, TimeoutError):
                continue
            self._failures = 0
            self.set_health(HealthState.UP, f"{host}:{port} answers again")

    async def send(self, message: OutboundMessage) -> SendReceipt:
        if self._session is None:
            raise self.fail("channel not started", temporary=True)
        url = codec.request_url(self.options.url, message.address)
        headers = {"Content-Type": "application/json"}
        if self.options.idempotency_header:  # the same key on every retry of this attempt
            headers[self.options.idempotency_header] = message.message_id
        try:
            async with self._session.post(url, data=codec.request_body(message), headers=headers) as resp:
                body = await resp.read()
                status = resp.status
        except TimeoutError as exc:  # it may have arrived: a retry carries the same key
            raise self.fail(
                f"no answer within {self.options.timeout:g}s", temporary=True, endpoint=message.address
            ) from exc
        except aiohttp.ClientError as exc:
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
    opts = Options(**({**options, "max_length": max_length} if max_length is not None else options))
    return WebhookChannel(name=name, options=opts)
