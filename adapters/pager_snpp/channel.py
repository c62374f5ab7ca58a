"""I/O of the SNPP channel: a level 2 client (RFC 1861) on one reused connection.

A send is one transaction: [LEVEl n] PAGEr id (once per recipient: a comma-separated address
pages a group) then MESSage or DATA, then SEND. 250 means the server took the page for its
paging terminal, which is all a one-way pager can tell; the reply is the evidence. Replies per
§4.2: 4xx closes the connection (the transaction is tried once more on a fresh connection when
the server refused it before accepting it), 5xx fails this transaction only. 550 (invalid pager
ID) is permanent; 554 (technical) and 4xx are temporary. A connection idle for `idle_timeout`
is closed with QUIT; the next send opens a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from typing import Any

from adapters.base import Capabilities, Channel, HealthState, OutboundMessage, SendReceipt
from adapters.errors import CalloutError, ChannelError
from adapters.pager_snpp import codec
from adapters.pager_snpp.connection import Connection, ConnectionLost
from adapters.pager_snpp.options import Options

log = logging.getLogger(__name__)
NOT_IMPLEMENTED = (500, 502)  # an optional level 2 command the server does not have


class _Retry(CalloutError):
    """The server refused the transaction by closing (4xx) before taking it: safe to try again."""

    def __init__(self, lost: ConnectionLost | codec.Reply) -> None:
        self.lost = lost
        super().__init__(str(lost))


class _Unreachable(CalloutError):
    """The server cannot be reached or refused the session (greeting, login)."""

    def __init__(self, reason: str, code: str) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


def recipients(address: str) -> list[str]:
    """A group of pagers as one address: IDs separated by commas, semicolons or spaces."""
    return [a for a in re.split(r"[,;\s]+", address) if a]


class SnppChannel(Channel):
    kind = "snpp"

    def __init__(self, *, name: str, options: Options) -> None:
        super().__init__(
            name=name,
            capabilities=Capabilities(
                max_length=options.max_length,
                max_parts=1,
                confirms_delivery=False,
                two_way=False,
                broadcast=True,
            ),
        )
        self.options = options
        self.connections = 0  # opened so far (tests read it)
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()
        self._started = False
        self._unsupported: set[str] = set()  # optional commands the server answered 500/502

    # ---- lifecycle ----------------------------------------------------------------------------
    async def _open(self) -> None:
        if self.options.probe_on_start:
            self.set_health(HealthState.DEGRADED, "connecting to the SNPP server")
        else:
            self.set_health(HealthState.UP, "ready (not connected yet)")
        self._started = True
        self.start_task("idle", self._supervise)

    async def _close(self) -> None:
        self.stop_task("idle")  # not while it holds the lock for a probe: QUIT goes out now
        async with self._lock:
            await self._drop(quit_first=True)
        self._started = False
        self.set_health(HealthState.DOWN, "stopped")

    # ---- the contract ---------------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendReceipt:
        if not self._started:
            raise self.fail("channel not started", temporary=True, endpoint=message.address)
        ids = recipients(message.address)
        bad = [i for i in ids if not re.fullmatch(r"[\x21-\x7e]{1,64}", i)]
        if not ids or bad:
            raise self.fail("invalid pager ID", temporary=False, endpoint=message.address, code="address")
        async with self._lock:
            for attempt in (1, 2):
                try:
                    conn = await self._connection()
                    return await self._transaction(conn, message, ids)
                except _Unreachable as exc:
                    raise self.fail(
                        exc.reason, temporary=True, endpoint=message.address, code=exc.code
                    ) from exc
                except _Retry as exc:
                    await self._drop(quit_first=False)
                    if attempt == 2:
                        raise self._lost(exc.lost, message.address) from exc
                    log.info("snpp %s: %s; trying again on a new connection", self.name, exc)
        raise AssertionError("unreachable")

    # ---- one transaction ------------------------------------------------------------------------
    async def _transaction(self, conn: Connection, msg: OutboundMessage, ids: list[str]) -> SendReceipt:
        accepted: list[str] = []
        rejected: dict[str, str] = {}
        last: codec.Reply | None = None
        pending = deque(ids)
        while pending:
            batch = await self._pagers(conn, msg, pending, rejected)
            if not batch:
                continue
            last = await self._message_and_send(conn, msg, batch)
            accepted += batch
        evidence: dict[str, Any] = {"snpp_connection": conn.number, "snpp_recipients": accepted}
        if rejected:
            evidence["snpp_rejected"] = rejected
        if last is None:  # every recipient refused
            codes = {r.split(" ", 1)[0] for r in rejected.values()}
            temporary = codes != {"550"}
            first = next(iter(rejected.values()))
            code, _, text = first.partition(" ")
            raise self.fail(
                f"pager ID refused: {first}",
                temporary=temporary,
                endpoint=msg.address,
                code=code,
                snpp_text=text,
                **evidence,
            )
        evidence.update(snpp_code=str(last.code), snpp_text=last.text)
        return SendReceipt(channel_ref=None, evidence=evidence)

    async def _pagers(
        self, conn: Connection, msg: OutboundMessage, pending: deque[str], rejected: dict[str, str]
    ) -> list[str]:
        """PAGE as many pending recipients as the server takes in one transaction (552: the rest
        go in the next one). Options (LEVEl) precede each PAGE: they apply to the next PAGE only
        (§4.5.2, "option-option-option-go")."""
        batch: list[str] = []
        level = self.options.levels.get(msg.priority)
        while pending:
            pid = pending[0]
            if level is not None and "LEVE" not in self._unsupported:
                await self._optional(conn, "LEVE", codec.level(level))
            reply = await self._ask(conn, codec.page(pid, self.options.page_password))
            if reply.code == 552 and batch:  # max recipients: send these, the rest follow
                break
            pending.popleft()
            if reply.ok:
                batch.append(pid)
            else:
                rejected[pid] = str(reply)
        return batch

    async def _message_and_send(
        self, conn: Connection, msg: OutboundMessage, batch: list[str]
    ) -> codec.Reply:
        o = self.options
        if o.subject and "SUBJ" not in self._unsupported:
            await self._optional(conn, "SUBJ", codec.command("SUBJ", codec.printable(msg.incident_ref)))
        text = msg.text
        if o.use_data or codec.needs_data(text):
            reply = await self._ask(conn, codec.DATA)
            if reply.code == 354:
                reply = await self._ask(conn, codec.data_body(text))
        else:
            reply = await self._ask(conn, codec.mess(text))
        if not reply.ok:
            await self._reset(conn)
            raise self._refused("message refused", reply, msg, batch)
        reply = await self._ask(conn, codec.SEND, sent=True)
        if not reply.ok:
            raise self._refused("page not sent", reply, msg, batch)
        return reply

    async def _ask(self, conn: Connection, line: bytes, *, sent: bool = False) -> codec.Reply:
        """One command. A 4xx (or a connection that died before the command went out) is a
        _Retry; a connection lost after SEND went out is not: the page may have been sent."""
        try:
            reply = await conn.command(line, self.options.reply_timeout)
        except ConnectionLost as exc:
            if sent and exc.reply is None:
                raise self.fail(f"connection lost after SEND: {exc}", temporary=True, code="lost") from exc
            raise _Retry(exc) from exc
        if reply.closes:
            raise _Retry(reply)
        return reply

    async def _optional(self, conn: Connection, keyword: str, line: bytes) -> None:
        reply = await self._ask(conn, line)
        if reply.code in NOT_IMPLEMENTED:
            log.info("snpp %s: the server has no %s (%s); not sending it again", self.name, keyword, reply)
            self._unsupported.add(keyword)
        elif not reply.ok:
            log.warning("snpp %s: %s refused: %s", self.name, keyword, reply)

    async def _reset(self, conn: Connection) -> None:
        """RESEt (§4.3.3) so the next transaction starts clean."""
        reply = await self._ask(conn, codec.RESET)
        if not reply.ok:
            log.warning("snpp %s: RESE answered %s", self.name, reply)

    def _refused(self, what: str, reply: codec.Reply, msg: OutboundMessage, batch: list[str]) -> ChannelError:
        # 550: invalid (e.g. administratively barred pager ID) and 503 (incomplete): permanent.
        # 554: technical failure, try again later.
        temporary = reply.code == 554 or reply.klass is codec.ReplyClass.TWO_WAY_ERROR
        return self.fail(
            f"{what}: {reply}",
            temporary=temporary,
            endpoint=batch[0] if len(batch) == 1 else msg.address,
            code=str(reply.code),
            snpp_text=reply.text,
        )

    def _lost(self, lost: ConnectionLost | codec.Reply, address: str) -> ChannelError:
        reply = lost if isinstance(lost, codec.Reply) else lost.reply
        code = str(reply.code) if reply is not None else "lost"
        return self.fail(f"server closed the connection: {lost}", temporary=True, endpoint=address, code=code)

    # ---- the connection -------------------------------------------------------------------------
    async def _connection(self) -> Connection:
        if self._conn is not None and self._conn.alive:
            return self._conn
        await self._drop(quit_first=False)
        o = self.options
        what = f"snpp {o.host}:{o.port}"
        try:
            async with asyncio.timeout(o.connect_timeout):
                reader, writer = await asyncio.open_connection(o.host, o.port)
        except TimeoutError as exc:
            raise self._unreachable(
                f"{what}: no connection within {o.connect_timeout:g}s", "connect"
            ) from exc
        except OSError as exc:
            raise self._unreachable(f"{what}: {exc.strerror or exc}", "connect") from exc
        self.connections += 1
        conn = Connection(reader, writer, number=self.connections, name=self.name)
        self.start_task(f"receive.{conn.number}", conn.receive, restart=False)
        self._conn = conn
        try:
            greeting = await conn.reply(o.reply_timeout)  # §4.1: 220 on connection
            if greeting.code != 220:
                raise self._unreachable(f"{what}: greeting {greeting}", str(greeting.code))
            if o.login:
                args = (o.login, o.login_password) if o.login_password else (o.login,)
                reply = await conn.command(codec.command("LOGI", *args), o.reply_timeout)
                if not reply.ok:
                    raise self._unreachable(f"{what}: login refused: {reply}", str(reply.code))
        except ConnectionLost as exc:
            code = str(exc.reply.code) if exc.reply else "lost"
            raise self._unreachable(f"{what}: {exc}", code) from exc
        except _Unreachable:
            await self._drop(quit_first=False)
            raise
        self.set_health(HealthState.UP, f"connected: {greeting}")
        return conn

    def _unreachable(self, reason: str, code: str) -> _Unreachable:
        log.warning("snpp %s: down: %s", self.name, reason)
        self.set_health(HealthState.DOWN, reason)
        return _Unreachable(reason, code)

    async def _drop(self, *, quit_first: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close(quit_first=quit_first)
            self.stop_task(f"receive.{conn.number}")  # it ends on its own at EOF; forget it

    async def _supervise(self) -> None:
        """Connect at start; QUIT an idle connection; while down, try to connect again."""
        o = self.options
        if o.probe_on_start:
            await self._probe()
        while True:
            try:
                await self._look_after()
            except Exception:  # a bug here must not take the gateway down: log it, keep going
                log.exception("snpp %s: supervisor failed", self.name)
                await asyncio.sleep(o.recheck_interval)

    async def _look_after(self) -> None:
        o = self.options
        loop = asyncio.get_running_loop()
        if self.health.state is HealthState.DOWN:
            await asyncio.sleep(o.recheck_interval)
            await self._probe()
            return
        conn = self._conn
        idle_until = conn.last_used + o.idle_timeout if conn is not None else loop.time() + o.idle_timeout
        await asyncio.sleep(max(0.05, idle_until - loop.time()))
        async with self._lock:
            conn = self._conn
            if conn is not None and loop.time() - conn.last_used >= o.idle_timeout:
                await self._drop(quit_first=True)
            elif conn is not None and not conn.alive:
                await self._drop(quit_first=False)  # e.g. the server's own 421 Timeout

    async def _probe(self) -> None:
        async with self._lock:
            with contextlib.suppress(_Unreachable):  # health says why
                await self._connection()


def build(name: str, options: dict[str, Any], max_length: int | None = None) -> Channel:
    opts = Options(**options)
    if max_length is not None:
        opts = opts.model_copy(update={"max_length": max_length})
    return SnppChannel(name=name, options=opts)
