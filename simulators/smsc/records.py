"""What the simulated SMSC records and keeps: submits as it saw them, deliver_sm jobs, accounts,
the token bucket and one ESME connection."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from dataclasses import dataclass, field

from simulators.smsc.gsm import decode_text
from simulators.smsc.wire import (
    BIND_RECEIVER,
    BIND_TRANSCEIVER,
    ROK,
    T_PAYLOAD,
    Body,
    split_udh,
)


@dataclass
class Submitted:
    """One submit_sm as the SMSC saw it, and its answer."""

    system_id: str
    source: str
    destination: str
    esm_class: int
    data_coding: int
    registered_delivery: int
    text: str
    concat: tuple[int, int, int] | None
    status: int
    message_id: str
    at: float


def parse_submit(system_id: str, body: Body) -> Submitted:
    """§4.4.1 submit_sm body."""
    body.cstr()  # service_type
    body.take(2)  # source_addr_ton, source_addr_npi
    source = body.cstr()
    body.take(2)  # dest_addr_ton, dest_addr_npi
    dest = body.cstr()
    esm_class = body.byte()
    body.take(2)  # protocol_id, priority_flag
    body.cstr()  # schedule_delivery_time
    body.cstr()  # validity_period
    registered = body.byte()
    body.byte()  # replace_if_present_flag
    coding = body.byte()
    body.byte()  # sm_default_msg_id
    message = body.take(body.byte())
    tlvs = body.tlvs()
    if not message and T_PAYLOAD in tlvs:
        message = tlvs[T_PAYLOAD]
    concat, data = split_udh(message) if esm_class & 0x40 else (None, message)
    text = decode_text(data, coding)
    return Submitted(
        system_id, source, dest, esm_class, coding, registered, text, concat, ROK, "", time.monotonic()
    )


@dataclass
class Job:
    """A deliver_sm waiting to go (a receipt or an MO message)."""

    body: bytes
    kind: str
    ref: str
    attempts: int = 0


@dataclass
class Account:
    password: str
    outbox: deque[Job] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, job: Job, *, front: bool = False) -> None:
        (self.outbox.appendleft if front else self.outbox.append)(job)
        self.ready.set()


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class EsmeConnection:
    """One TCP connection from an ESME, and its bind state (§2.2)."""

    def __init__(self, number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.number = number
        self.reader, self.writer = reader, writer
        self.mode = 0  # 0: open (not bound); else the bind command id
        self.system_id = ""
        self.outstanding = 0
        self.awaiting: dict[int, tuple[Job, asyncio.TimerHandle]] = {}
        self.seq = itertools.count(1)
        self.closed = False
        self.graceful = False

    def write(self, data: bytes) -> None:
        if not self.closed:
            self.writer.write(data)

    @property
    def receives(self) -> bool:
        return self.mode in (BIND_RECEIVER, BIND_TRANSCEIVER)
