"""`ApiServer`: the API on a TCP port for the body of an `async with`."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Self

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from gateway.api.app import build_app
from gateway.app import Gateway
from gateway.domain.personal import redact_text

log = logging.getLogger(__name__)
SHUTDOWN_TIMEOUT = 5.0


class RedactingAccessLogger(AbstractAccessLogger):
    """One line per request, without the query string (it may hold a token) and with anything
    that looks like a phone number in the path masked (`/callers/{number}`)."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %s %.3fs id=%s',
            request.remote,
            request.method,
            redact_text(request.path),
            response.status,
            response.body_length,
            time,
            response.headers.get("X-Request-Id", "-"),
        )


class ApiServer:
    """Starts an AppRunner and a TCPSite on enter; on exit closes WebSockets and stops.

    `port=0` binds a free port; `.port` and `.url` give the real one.
    """

    def __init__(self, gw: Gateway, host: str | None = None, port: int | None = None) -> None:
        self.gw = gw
        self.host = host if host is not None else gw.settings.api.host
        self._requested_port = port if port is not None else gw.settings.api.port
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> Self:
        runner = web.AppRunner(
            build_app(self.gw),
            access_log_class=RedactingAccessLogger,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("API listening on %s", self.url)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
            log.info("API stopped")
