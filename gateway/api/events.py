"""WebSocket /api/v1/events: an optional replay of the audit trail, then every bus event live.

The subscription is taken before the replay, so nothing committed in between is missed; events
the replay already sent are skipped by audit id. A client too slow to keep up is closed with
1013 (try again later) and can reconnect with `?since=<last id>`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from gateway.api import context, serialize
from gateway.api.auth import Permission, require
from gateway.api.inputs import query_int
from gateway.app import Gateway
from gateway.bus import Subscription

log = logging.getLogger(__name__)
REPLAY_PAGE = 500
CLOSE_TIMEOUT = 2.0  # seconds to wait for the client's close frame
SEND_TIMEOUT = 10.0  # a client that takes no data for this long is cut off like a slow one
HEARTBEAT = 30.0
Ending = tuple[int, bytes]  # close code and reason
TOO_SLOW = b"too slow: event queue overflowed; reconnect with ?since=<last id>"


async def events(request: web.Request) -> web.StreamResponse:
    who = require(request, Permission.READ)
    since = query_int(request, "since", default=-1, low=0, high=2**62) if "since" in request.query else None
    api = context.state(request)
    gw = api.gw
    conn = context.request_id(request)
    ws = web.WebSocketResponse(timeout=CLOSE_TIMEOUT, heartbeat=HEARTBEAT)
    ws.headers[context.REQUEST_ID_HEADER] = conn
    await ws.prepare(request)
    sub = gw.bus.subscribe(gw.settings.api.ws_queue)
    api.sockets.add(ws)
    gw.metrics.ws_clients.inc()
    log.info("ws %s: %s connected, replay after %s", conn, who.actor, since)
    ending: Ending = (WSCloseCode.OK, b"")
    try:
        async with asyncio.TaskGroup() as tg:
            reader = tg.create_task(_read(ws), name=f"ws.{conn}.read")
            writer = tg.create_task(_write(ws, gw, sub, since, conn), name=f"ws.{conn}.write")
            # Whichever ends first (client gone, server closing, slow client cut off) ends the other.
            reader.add_done_callback(lambda _t: writer.cancel())
            writer.add_done_callback(lambda _t: reader.cancel())
        if not writer.cancelled():
            ending = writer.result()
    except* Exception:  # the connection is already upgraded: log, never answer with JSON
        log.exception("ws %s: failed", conn)
        ending = (WSCloseCode.INTERNAL_ERROR, b"internal error")
    finally:
        sub.close()
        api.sockets.discard(ws)
        gw.metrics.ws_clients.dec()
        # Closed here, after the reader stopped, so the client's close frame is read by `close`.
        await close(ws, *ending)
        log.info("ws %s: closed (code %s)", conn, ws.close_code)
    return ws


async def _read(ws: web.WebSocketResponse) -> None:
    """Drain what the client sends (pings and closes are handled by aiohttp); ends when it goes."""
    async for msg in ws:
        if msg.type is WSMsgType.ERROR:
            return


async def _write(
    ws: web.WebSocketResponse, gw: Gateway, sub: Subscription, since: int | None, conn: str
) -> Ending:
    """Send the replay, then live events; returns how to close when the client cannot keep up."""
    last = -1
    try:
        if since is not None:
            last = await _replay(ws, gw, since)
        while True:
            event = await sub.get()
            if event is None:
                log.warning(
                    "ws %s: client too slow, more than %d events behind; closing",
                    conn,
                    gw.settings.api.ws_queue,
                )
                return (WSCloseCode.TRY_AGAIN_LATER, TOO_SLOW)
            if event.audit_id is not None and event.audit_id <= last:
                continue
            await _send(ws, event.to_json())
    except TimeoutError:
        log.warning("ws %s: client stopped reading for %gs; closing", conn, SEND_TIMEOUT)
        return (WSCloseCode.TRY_AGAIN_LATER, TOO_SLOW)
    except ConnectionError:
        return (WSCloseCode.OK, b"")


async def _send(ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
    async with asyncio.timeout(SEND_TIMEOUT):
        await ws.send_json(data)


async def close(ws: web.WebSocketResponse, code: int, message: bytes) -> None:
    """Close within a bounded time; aiohttp drops the transport if the client does not answer."""
    if ws.closed:
        return
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT * 2):
            await ws.close(code=code, message=message)
    except (TimeoutError, ConnectionError):
        log.debug("ws close did not complete cleanly")


async def _replay(ws: web.WebSocketResponse, gw: Gateway, since: int) -> int:
    last = since
    while True:
        async with gw.store.read() as tx:
            rows = await tx.audit_since(last, limit=REPLAY_PAGE)
        for row in rows:
            await _send(ws, _replayed(row))
            last = row["id"]
        if len(rows) < REPLAY_PAGE:
            return last


def _replayed(row: dict[str, Any]) -> dict[str, Any]:
    return {**serialize.audit_event(row), "replay": True}


async def close_all(app: web.Application) -> None:
    """On shutdown: close every open WebSocket so the server never waits on one."""
    sockets = list(app[context.STATE].sockets)
    await asyncio.gather(*(close(ws, WSCloseCode.GOING_AWAY, b"server shutting down") for ws in sockets))


def routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/events", events, name="events")]
