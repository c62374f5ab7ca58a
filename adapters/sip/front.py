"""The desk's one SIP address in front of the worker pool: a stateless proxy (RFC 3261 §16.11).

Callers, PBXs and trunks keep sending to one address and port. A new INVITE goes to the worker
with the most free lines; every later message of the same Call-ID (ACK, CANCEL, BYE, INFO,
retransmissions) goes to the same worker. Requests get our Via on top (§16.6 step 8, a branch
derived from the caller's so retransmissions map to the same transaction, §16.11) and
Max-Forwards minus one (§16.6 step 3); responses from a worker lose our Via (§16.7 step 3) and
go back to where the request came from. Messages the worker sends itself (its BYE at shutdown)
reach the caller straight from the worker's Contact; a caller such as sipp that answers them to
the front is routed by Call-ID too. Every line taken: the INVITE waits in the front up to
`HOLD` seconds for a line to free (a caller who hung up a moment ago is often not yet reported
ended by its worker), its retransmissions dropped meanwhile and a CANCEL answered 200 with 487
to the INVITE (§9.2); then it goes to the least busy worker, whose pjsua answers 486 Busy Here
(§21.4.24) and reports the call offered and ended "rejected", as a single desk does. No worker
running at all: the front answers 486 itself and the pool reports the call the same way.
Sans-I/O: `FrontRouter.handle(data, source, now)`, `call_ended(call_id, now)` and `expire(now)`
return the datagrams to send.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

Address = tuple[str, int]
Out = list[tuple[bytes, Address]]
LINGER = 32.0  # seconds a finished call's route is kept for late retransmissions (64*T1, §17.1.1.2)
HOLD = 0.5  # seconds a new INVITE waits for a free line when every line is taken (T1, §17.1.1.2)
_VIA = re.compile(rb"^(via|v)[ \t]*:", re.I)
_MAXF = re.compile(rb"^max-forwards[ \t]*:[ \t]*(\d+)", re.I)
_CALL_ID = re.compile(rb"^(call-id|i)[ \t]*:[ \t]*(.+)$", re.I)
_BRANCH = re.compile(rb"branch=([^;, \t]+)", re.I)


@dataclass(slots=True)
class Route:
    worker: int
    caller: Address
    ended_at: float | None = None


@dataclass(slots=True)
class Held:
    """A new INVITE waiting in the front for a free line."""

    lines: list[bytes]
    body: bytes
    source: Address
    since: float


@dataclass(slots=True)
class Refusal:
    """An INVITE the front refused (all lines busy): the pool reports it as a rejected call."""

    raw: bytes
    source: Address


class FrontRouter:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        free_lines: Callable[[], list[tuple[int, int]]],
        workers: Callable[[int], Address | None],
    ) -> None:
        self.host, self.port = host, port
        self._free_lines = free_lines  # [(worker index, free lines)] of running workers
        self._worker_address = workers
        self.routes: dict[bytes, Route] = {}
        self.held: dict[bytes, Held] = {}  # oldest first
        self.refused: list[Refusal] = []
        self.dropped = 0
        self._busy: dict[int, int] = {}  # worker -> calls routed to it and not ended
        self._ended: deque[tuple[float, bytes]] = deque()  # (ended at, Call-ID), oldest first

    def call_ended(self, call_id: str, now: float) -> Out:
        """The worker reported the call over: its line is free (an INVITE held for one goes now)."""
        self._end(call_id.encode(), now)
        return self._release(now)

    def _end(self, key: bytes, now: float) -> None:
        route = self.routes.get(key)
        if route is not None and route.ended_at is None:
            route.ended_at = now
            self._busy[route.worker] -= 1
            self._ended.append((now, key))

    def worker_lost(self, worker: int, now: float) -> Out:
        """A worker died: every call routed to it is over."""
        for key, route in list(self.routes.items()):
            if route.worker == worker and route.ended_at is None:
                self._end(key, now)
        return self._release(now)

    def busy(self, worker: int) -> int:
        return self._busy.get(worker, 0)

    def expire(self, now: float) -> Out:
        """Forget finished calls after LINGER; INVITEs held HOLD seconds go on (to a 486)."""
        while self._ended and now - self._ended[0][0] > LINGER:
            ended_at, key = self._ended.popleft()
            route = self.routes.get(key)
            if route is not None and route.ended_at == ended_at:
                del self.routes[key]
        return self._release(now)

    def _release(self, now: float) -> Out:
        out: Out = []
        for key, held in list(self.held.items()):
            worker, free = self._pick()
            if worker is not None and free <= 0 and now - held.since < HOLD:
                break
            del self.held[key]
            out += self._request(held.lines, held.body, key, held.source, now, waited=True)
        return out

    def handle(self, data: bytes, source: Address, now: float) -> Out:
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep or not head.strip():
            if not data.strip():
                return []  # keep-alive CRLF (RFC 5626 §4.4.1)
            self.dropped += 1
            return []
        lines = head.split(b"\r\n")
        call_id = _header_call_id(lines)
        if call_id is None:
            self.dropped += 1
            return []
        if lines[0].startswith(b"SIP/2.0 "):
            return self._response(lines, body, call_id, source)
        return self._request(lines, body, call_id, source, now)

    def _request(
        self,
        lines: list[bytes],
        body: bytes,
        call_id: bytes,
        source: Address,
        now: float,
        *,
        waited: bool = False,
    ) -> Out:
        route = self.routes.get(call_id)
        method = lines[0].split(b" ", 1)[0]
        held = self.held.get(call_id)
        if held is not None:  # an INVITE waiting for a line: its retransmissions wait with it
            if method != b"CANCEL":
                return []
            del self.held[call_id]
            return [
                (_reply(lines, 200, b"OK"), source),
                (_reply(held.lines, 487, b"Request Terminated"), held.source),
            ]
        if route is None or (method == b"INVITE" and route.ended_at is not None and now - route.ended_at > 1):
            if method != b"INVITE":
                return (
                    [(_reply(lines, 481, b"Call/Transaction Does Not Exist"), source)]
                    if method != b"ACK"
                    else []
                )
            worker, free = self._pick()
            if worker is None:
                self.refused.append(Refusal(b"\r\n".join(lines) + b"\r\n\r\n" + body, source))
                return [(_reply(lines, 486, b"Busy Here"), source)]
            if free <= 0 and not waited:
                self.held[call_id] = Held(lines, body, source, now)
                return []
            route = self.routes[call_id] = Route(worker, source)
            self._busy[worker] = self._busy.get(worker, 0) + 1
        target = self._worker_address(route.worker)
        if target is None:
            return [(_reply(lines, 503, b"Service Unavailable"), source)] if method != b"ACK" else []
        out, maxf = [lines[0]], None
        # CANCEL and a non-2xx ACK carry the INVITE's branch and must keep matching it (§9.1, §17.1.1.3).
        kind = b"INVITE" if method in (b"CANCEL", b"ACK") else method
        branch = b"z9hG4bKfr" + hashlib.sha256(_top_branch(lines) + call_id + kind).hexdigest()[:16].encode()
        via = b"Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (self.host.encode(), self.port, branch)
        out.append(via)
        for line in lines[1:]:
            m = _MAXF.match(line)
            if m is None:
                out.append(line)
                continue
            maxf = int(m.group(1))
            if maxf <= 0 and method != b"ACK":
                if method == b"INVITE":
                    self._end(call_id, now)  # never reaches a worker: no line taken
                return [(_reply(lines, 483, b"Too Many Hops"), source)]
            out.append(b"Max-Forwards: %d" % max(0, maxf - 1))
        if maxf is None:
            out.append(b"Max-Forwards: 69")
        route.caller = source if method == b"INVITE" else route.caller
        return [(b"\r\n".join(out) + b"\r\n\r\n" + body, target)]

    def _response(self, lines: list[bytes], body: bytes, call_id: bytes, source: Address) -> Out:
        route = self.routes.get(call_id)
        if route is None:
            self.dropped += 1
            return []
        vias = [i for i, line in enumerate(lines) if _VIA.match(line)]
        ours = vias and b"z9hG4bKfr" in lines[vias[0]] and f"{self.port};".encode() in lines[vias[0]]
        if ours:  # a worker's answer to a request we forwarded: drop our Via, back to the caller
            del lines[vias[0]]
            return [(b"\r\n".join(lines) + b"\r\n\r\n" + body, route.caller)]
        target = self._worker_address(route.worker)  # the caller's answer to a worker's request
        return [(b"\r\n".join(lines) + b"\r\n\r\n" + body, target)] if target else []

    def _pick(self) -> tuple[int | None, int]:
        """The running worker with the most free lines, and how many. When every line is taken
        (after HOLD) the INVITE still goes to the least busy worker: its pjsua answers 486 and
        reports the call, as one desk does."""
        best, most = None, -(10**9)
        for index, lines in self._free_lines():
            free = lines - self.busy(index)
            if free > most:
                best, most = index, free
        return best, most


def _header_call_id(lines: list[bytes]) -> bytes | None:
    for line in lines[1:]:
        m = _CALL_ID.match(line)
        if m:
            return m.group(2).strip()
    return None


def _top_branch(lines: list[bytes]) -> bytes:
    for line in lines[1:]:
        if _VIA.match(line):
            m = _BRANCH.search(line)
            return m.group(1) if m else line
    return b""


def _reply(lines: list[bytes], code: int, text: bytes) -> bytes:
    """A response made by the front itself (§8.2.6): Via, From, To (tagged), Call-ID, CSeq copied."""
    out = [b"SIP/2.0 %d %s" % (code, text)]
    for line in lines[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if name in (b"via", b"v", b"from", b"f", b"call-id", b"i", b"cseq"):
            out.append(line)
        elif name in (b"to", b"t"):
            out.append(
                line
                if b"tag=" in line
                else line + b";tag=front" + hashlib.sha256(line).hexdigest()[:8].encode()
            )
    out.append(b"Content-Length: 0")
    return b"\r\n".join(out) + b"\r\n\r\n"
