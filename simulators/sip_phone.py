"""SIP phones that answer callouts: a small UDP user agent server, written from the specifications.

RFC 3261: requests and responses (§7, §8.2.6: Via, From, To with our tag, Call-ID and CSeq
copied), INVITE server transactions with 100/180 and a 2xx retransmitted until the ACK
(§13.3.1.4), CANCEL answered 200 with 487 to the INVITE (§9.2), BYE both ways (§15).
RFC 4566/3264: the SDP answer picks PCMU (payload 0) and the offer's telephone-event type.
RFC 3550 §5.1: RTP headers are parsed (CSRCs and the extension skipped); ITU-T G.711 µ-law
payloads are decoded by hand and recorded to a WAV file (8 kHz, 16-bit mono), gaps from the
timestamps filled with silence. RFC 4733 §2.3: digits are sent as telephone-events (marker on
the first packet, durations growing every 50 ms, the end packet three times), or as SIP INFO
with `application/dtmf-relay` (`--dtmf info`).

One simulator serves many phones: the user part of the Request-URI picks a phone's behaviour
(`phones`), else the default. Faults: `busy` (486, or `status` 600), `reject` (603, or `status`
404, 484, 403), `no_answer` (rings until CANCEL), `silent` (answers, never presses), `hangup`
(answers, hangs up after `hangup_after`).

    callout simulate phone --port 5080 --press 1 --after 3s --record-dir /tmp/calls
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import struct
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from simulators.sip_message import ULAW, Message, parse, uri_user

Fault = Literal["none", "busy", "reject", "no_answer", "silent", "hangup"]
RATE = 8000
# RFC 3261 §21: the reason phrases of the final statuses a phone or its PBX refuses a call with.
REASONS = {
    403: "Forbidden",
    404: "Not Found",
    480: "Temporarily Unavailable",
    484: "Address Incomplete",
    486: "Busy Here",
    600: "Busy Everywhere",
    603: "Decline",
}
T1 = 0.5


@dataclass(frozen=True, slots=True)
class Behaviour:
    answer_after: float = 0.5  # seconds of ringing before 200 OK
    press: str = ""  # digits to send once answered
    press_after: float = 3.0  # seconds after the answer
    dtmf: Literal["rfc4733", "info"] = "rfc4733"
    fault: Fault = "none"
    hangup_after: float = 2.0  # fault "hangup": seconds after the answer
    busy_first: int = 0  # answer 486 Busy Here to this many calls first, then behave as above
    status: int = 0  # faults busy and reject: the final status (0: 486 for busy, 603 for reject)


@dataclass(slots=True)
class PhoneCall:
    user: str
    call_id: str
    caller: str
    status: int = 0  # the final status we answered
    answered_at: float | None = None
    ended_at: float | None = None
    ended_by: str = ""  # "caller", "phone", "cancel"
    digits_sent: str = ""
    samples: list[int] = field(default_factory=list)
    packets: int = 0
    recording: Path | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Dialog:
    call: PhoneCall
    invite: Message
    to_tag: str
    behaviour: Behaviour
    peer: tuple[str, int]
    rtp: asyncio.DatagramTransport | None = None
    remote_rtp: tuple[str, int] | None = None
    te_type: int = 101
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    cseq: int = 1
    last_ts: int | None = None
    task: asyncio.Task[None] | None = None


class SipPhone(asyncio.DatagramProtocol):
    """The phones' SIP side on one UDP socket; `calls` records every call."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        default: Behaviour | None = None,
        phones: dict[str, Behaviour] | None = None,
        record_dir: Path | None = None,
        echo: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self.default = default or Behaviour()
        self.phones = dict(phones or {})
        self.record_dir = record_dir
        self.echo = echo
        self.calls: list[PhoneCall] = []
        self._dialogs: dict[str, _Dialog] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self.garbled = 0

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.host, self.port)
        )
        self.port = self._transport.get_extra_info("sockname")[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        tasks = [d.task for d in self._dialogs.values() if d.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for d in list(self._dialogs.values()):
            self._finish(d, "shutdown")
        if self._transport is not None:
            self._transport.close()

    def uri(self, user: str) -> str:
        return f"sip:{user}@{self.host}:{self.port}"

    # ---- SIP ------------------------------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data.strip() == b"":
            return  # keep-alive (RFC 5626 §4.4.1)
        try:
            msg = parse(data)
        except ValueError:
            self.garbled += 1
            return
        if msg.start.startswith("SIP/2.0"):
            return  # responses to our BYE / INFO need nothing more
        call_id = msg.get("call-id") or ""
        method = msg.method
        d = self._dialogs.get(call_id)
        if method == "INVITE":
            if d is None:
                self._invite(msg, addr)
            elif d.call.answered_at is None:
                self._send(self._response(msg, 180, "Ringing", d.to_tag), addr)  # a retransmission
        elif method == "ACK":
            if d is not None:
                d.acked.set()
        elif method == "CANCEL":
            self._send(self._response(msg, 200, "OK", d.to_tag if d else ""), addr)
            if d is not None and d.call.answered_at is None:
                self._send(self._response(d.invite, 487, "Request Terminated", d.to_tag), d.peer)
                d.call.status = 487
                self._finish(d, "cancel")
        elif method == "BYE":
            self._send(self._response(msg, 200, "OK", d.to_tag if d else ""), addr)
            if d is not None:
                self._finish(d, "caller")
        elif method in ("OPTIONS", "INFO", "UPDATE", "NOTIFY"):
            self._send(self._response(msg, 200, "OK", d.to_tag if d else ""), addr)
        else:
            self._send(self._response(msg, 405, "Method Not Allowed", ""), addr)

    def _invite(self, msg: Message, addr: tuple[str, int]) -> None:
        user = uri_user(msg.start)
        behaviour = self.phones.get(user, self.default)
        call = PhoneCall(user=user, call_id=msg.get("call-id") or "", caller=msg.get("from") or "")
        d = _Dialog(call, msg, f"{random.getrandbits(32):08x}", behaviour, addr)
        self.calls.append(call)
        self._dialogs[call.call_id] = d
        self._send(self._response(msg, 100, "Trying", ""), addr)
        busy_before = sum(1 for c in self.calls if c.user == user) <= behaviour.busy_first
        if behaviour.fault in ("busy", "reject") or busy_before:
            code = 486 if busy_before else behaviour.status or (603 if behaviour.fault == "reject" else 486)
            text = REASONS.get(code, "Refused")
            call.status = code
            self._send(self._response(msg, code, text, d.to_tag), addr)
            self._finish(d, "phone")
            return
        self._send(self._response(msg, 180, "Ringing", d.to_tag), addr)
        if behaviour.fault != "no_answer":
            d.task = asyncio.get_running_loop().create_task(self._answer_and_talk(d))

    async def _answer_and_talk(self, d: _Dialog) -> None:
        b = d.behaviour
        await asyncio.sleep(b.answer_after)
        if d.call.ended_at is not None:
            return
        loop = asyncio.get_running_loop()
        rtp, _ = await loop.create_datagram_endpoint(lambda: _Rtp(self, d), local_addr=(self.host, 0))
        d.rtp = rtp
        self._read_offer(d)
        port = rtp.get_extra_info("sockname")[1]
        sdp = (
            f"v=0\r\no=phone 1 1 IN IP4 {self.host}\r\ns=-\r\nc=IN IP4 {self.host}\r\nt=0 0\r\n"
            f"m=audio {port} RTP/AVP 0 {d.te_type}\r\na=rtpmap:0 PCMU/8000\r\n"
            f"a=rtpmap:{d.te_type} telephone-event/8000\r\na=fmtp:{d.te_type} 0-16\r\na=ptime:20\r\n"
            "a=sendrecv\r\n"
        ).encode()
        ok = self._response(d.invite, 200, "OK", d.to_tag, body=sdp, contact=True)
        d.call.status, d.call.answered_at = 200, time.time()
        interval = T1
        for _ in range(7):  # RFC 3261 §13.3.1.4: retransmit the 2xx until the ACK
            self._send(ok, d.peer)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(d.acked.wait(), interval)
                break
            interval = min(interval * 2, 4.0)
        if b.fault == "hangup":
            await asyncio.sleep(b.hangup_after)
            self._bye(d)
            return
        if b.press and b.fault != "silent":
            await asyncio.sleep(b.press_after)
            for digit in b.press:
                if d.call.ended_at is not None:
                    return
                if b.dtmf == "info":
                    self._info(d, digit)
                else:
                    await self._rfc4733(d, digit)
                d.call.digits_sent += digit
                await asyncio.sleep(0.3)

    def _read_offer(self, d: _Dialog) -> None:
        text = d.invite.body.decode("ascii", "replace")
        host = re.search(r"^c=IN IP[46] (\S+)", text, re.M)
        port = re.search(r"^m=audio (\d+)", text, re.M)
        te = re.search(r"^a=rtpmap:(\d+) telephone-event/8000", text, re.M | re.I)
        if host and port:
            d.remote_rtp = (host.group(1), int(port.group(1)))
        if te:
            d.te_type = int(te.group(1))

    async def _rfc4733(self, d: _Dialog, digit: str) -> None:
        """RFC 4733 §2.3: one event, 50 ms updates, end bit on the last packet sent three times."""
        if d.rtp is None or d.remote_rtp is None:
            return
        event = "0123456789*#ABCD".index(digit.upper())
        ts = (d.last_ts or 0) + 1600
        ssrc, seq = 0x5AFE0000 + len(self.calls), random.randrange(0, 60000)
        for i, end in [(n, False) for n in range(1, 5)] + [(5, True)] * 3:
            header = struct.pack("!BBHII", 0x80, (0x80 if i == 1 else 0) | d.te_type, seq & 0xFFFF, ts, ssrc)
            payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, i * 400)
            if d.rtp is None or d.rtp.is_closing():
                return  # the call ended under our key press
            d.rtp.sendto(header + payload, d.remote_rtp)
            seq += 1
            await asyncio.sleep(0.05 if not end else 0.01)

    def _info(self, d: _Dialog, digit: str) -> None:
        body = f"Signal={digit}\r\nDuration=160\r\n".encode()
        self._send(self._request(d, "INFO", body, "application/dtmf-relay"), d.peer)

    def _bye(self, d: _Dialog) -> None:
        self._send(self._request(d, "BYE"), d.peer)
        self._finish(d, "phone")

    def _finish(self, d: _Dialog, by: str) -> None:
        call = d.call
        if call.ended_at is not None:
            return
        call.ended_at, call.ended_by = time.time(), by
        if d.rtp is not None:
            d.rtp.close()
            d.rtp = None
        if self.record_dir is not None and call.answered_at is not None:
            self.record_dir.mkdir(parents=True, exist_ok=True)
            path = self.record_dir / f"{call.user}-{len(self.calls)}-{random.getrandbits(24):06x}.wav"
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(RATE)
                w.writeframes(struct.pack(f"<{len(call.samples)}h", *call.samples))
            call.recording = path
        if self.echo:
            print(
                f"call {call.user}: status {call.status}, ended by {by}, "
                f"{len(call.samples) / RATE:.1f}s audio, digits sent {call.digits_sent!r}",
                flush=True,
            )
        call.done.set()
        self._dialogs.pop(call.call_id, None)

    # ---- message building -----------------------------------------------------------------------
    def _response(
        self, req: Message, code: int, text: str, tag: str, *, body: bytes = b"", contact: bool = False
    ) -> bytes:
        to = req.get("to") or ""
        if tag and ";tag=" not in to:
            to = f"{to};tag={tag}"
        lines = [f"SIP/2.0 {code} {text}"]
        lines += [f"Via: {v}" for v in req.all("via")]
        lines += [f"Record-Route: {v}" for v in req.all("record-route")]
        lines += [
            f"From: {req.get('from')}",
            f"To: {to}",
            f"Call-ID: {req.get('call-id')}",
            f"CSeq: {req.get('cseq')}",
            "User-Agent: callout-phone-simulator",
        ]
        if contact:
            lines.append(f"Contact: <sip:{uri_user(req.start) or 'phone'}@{self.host}:{self.port}>")
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def _request(self, d: _Dialog, method: str, body: bytes = b"", ctype: str = "") -> bytes:
        inv = d.invite
        d.cseq += 1
        target = re.search(r"<([^>]+)>", inv.get("contact") or "")
        uri = target.group(1) if target else f"sip:{d.peer[0]}:{d.peer[1]}"
        to_them = inv.get("from") or ""
        us = inv.get("to") or ""
        if ";tag=" not in us:
            us = f"{us};tag={d.to_tag}"
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.host}:{self.port};branch=z9hG4bK{random.getrandbits(48):012x};rport",
            "Max-Forwards: 70",
            f"From: {us}",
            f"To: {to_them}",
            f"Call-ID: {inv.get('call-id')}",
            f"CSeq: {d.cseq} {method}",
            "User-Agent: callout-phone-simulator",
        ]
        if body:
            lines.append(f"Content-Type: {ctype}")
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self._transport is not None:
            self._transport.sendto(data, addr)


class _Rtp(asyncio.DatagramProtocol):
    """RFC 3550 §5.1 receiver: PCMU payloads recorded in timestamp order, gaps as silence."""

    def __init__(self, phone: SipPhone, d: _Dialog) -> None:
        self.phone, self.d = phone, d

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        cc, has_ext, pt = data[0] & 0x0F, data[0] & 0x10, data[1] & 0x7F
        ts = struct.unpack("!I", data[4:8])[0]
        offset = 12 + 4 * cc
        if has_ext and len(data) >= offset + 4:
            offset += 4 + 4 * struct.unpack("!H", data[offset + 2 : offset + 4])[0]
        payload = data[offset:]
        if data[0] & 0x20 and payload:  # padding (§5.1 P)
            payload = payload[: -payload[-1]]
        if pt != 0:
            return
        call = self.d.call
        if self.d.last_ts is not None:
            gap = (ts - self.d.last_ts) & 0xFFFFFFFF
            if 0 < gap < RATE * 5:
                call.samples.extend([0] * gap)
            elif gap != 0:
                return  # late or reordered: dropped
        call.samples.extend(ULAW[b] for b in payload)
        call.packets += 1
        self.d.last_ts = (ts + len(payload)) & 0xFFFFFFFF


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5080)
    parser.add_argument("--answer-after", default="1s", help="ringing time before answering")
    parser.add_argument("--press", default="", help="digits to press once answered, e.g. 1")
    parser.add_argument("--after", default="3s", help="when to press, after the answer")
    parser.add_argument("--dtmf", choices=["rfc4733", "info"], default="rfc4733")
    parser.add_argument(
        "--fault", choices=["none", "busy", "reject", "no_answer", "silent", "hangup"], default="none"
    )
    parser.add_argument("--hangup-after", default="2s", help="fault hangup: seconds after the answer")
    parser.add_argument(
        "--status", type=int, default=0, help="faults busy and reject: the final status, e.g. 600 or 404"
    )
    parser.add_argument("--record-dir", type=Path, default=None, help="write each call's audio here")


def _seconds(text: str) -> float:
    return float(str(text).rstrip("s"))


async def main(**o: object) -> int:
    b = Behaviour(
        answer_after=_seconds(str(o["answer_after"])),
        press=str(o["press"]),
        press_after=_seconds(str(o["after"])),
        dtmf=o["dtmf"],  # type: ignore[arg-type]
        fault=o["fault"],
        hangup_after=_seconds(str(o["hangup_after"])),
        status=int(str(o.get("status") or 0)),
    )  # type: ignore[arg-type]
    record = o.get("record_dir")
    async with SipPhone(
        host=str(o["host"]),
        port=int(str(o["port"])),
        default=b,
        record_dir=record if isinstance(record, Path) else None,
        echo=True,
    ) as phone:
        print(
            f"phone listening on udp {phone.host}:{phone.port}; call sip:ANY@{phone.host}:{phone.port}",
            flush=True,
        )
        await asyncio.Event().wait()
    return 0
