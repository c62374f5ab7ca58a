"""A KISS TNC with simulated APRS stations on the air, reachable on a pseudo-terminal and on TCP.

Frames the host writes go "on the air": a station whose callsign is the APRS addressee hears the
message, acks it (or rejects it) and may answer with a message of its own, which it retransmits
until the host acks it. An optional digipeater repeats every packet whose path starts with an
unused WIDEn-N. Faults: frames to the host corrupted on the serial line, acks lost on the air,
host frames lost on the air, and a silent (dead) TNC. A station with a position beacons it
(APRS position reports, uncompressed or compressed), every `beacon_interval` seconds if set, and
whenever `beacon` is called.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from simulators.kiss_tnc.wire import (
    Aprs,
    Ax25,
    Deframer,
    aprs_ack,
    aprs_message,
    aprs_parse,
    aprs_position,
    ax25_pack,
    ax25_unpack,
    kiss_wrap,
)
from simulators.pty import RawPty

log = logging.getLogger(__name__)


@dataclass
class Heard:
    station: str
    source: str
    text: str
    msgno: str | None


@dataclass
class Station:
    callsign: str
    acks: bool = True  # ack every message addressed to it that has a number
    reject: bool = False  # answer rejNN instead
    reply: str | None = None  # answer each new message with this text
    ack_delay: float = 0.05  # a radio needs time to key up
    reply_delay: float = 0.1
    retry_interval: float = 1.0  # its own messages are retransmitted until acked
    retries: int = 3
    received: list[Heard] = field(default_factory=list)  # every copy heard
    acked: list[str] = field(default_factory=list)  # numbers of its own messages the host acked
    lat: float | None = None  # where its GPS says it is (degrees)
    lon: float | None = None
    beacon_interval: float = 0.0  # seconds between position beacons; 0: only when asked
    compressed: bool = False  # beacon compressed positions (ch. 9)

    def messages(self) -> list[Heard]:
        """Distinct messages (copies with the same source and number counted once)."""
        seen: set[tuple[str, str | None, str]] = set()
        out = []
        for h in self.received:
            key = (h.source, h.msgno, h.text if h.msgno is None else "")
            if key not in seen:
                seen.add(key)
                out.append(h)
        return out


@dataclass
class Faults:
    corrupt: int = 0  # the next N frames to the host are garbled on the serial line
    lose_acks: int = 0  # the next N acks/rejects from stations are lost on the air
    lose_uplink: int = 0  # the next N frames from the host are lost on the air
    silent: bool = False  # the TNC is dead: it swallows everything and says nothing


class KissTnc:
    def __init__(
        self,
        stations: list[Station] | None = None,
        *,
        pty: bool = True,
        pty_link: str | Path | None = None,
        tcp_port: int | None = None,
        tcp_host: str = "127.0.0.1",
        digipeater: str | None = None,
        printer: Callable[[str], None] | None = None,
    ) -> None:
        self.stations = {s.callsign.upper(): s for s in (stations or [])}
        self.want_pty = pty
        self.pty_link = Path(pty_link) if pty_link is not None else None
        self.tcp_port = tcp_port
        self.tcp_host = tcp_host
        self.digipeater = digipeater
        self.printer = printer
        self.faults = Faults()
        self.on_air: list[str] = []  # TNC2 text of every frame the host transmitted
        self.to_host: list[str] = []  # TNC2 text of every frame sent to the host
        self.params: dict[int, int] = {}  # KISS parameters the host set (command -> value)
        self.bad_from_host = 0
        self.pty_path: str | None = None
        self._master = -1
        self._pty_out = bytearray()
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()
        self._client_tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._deframers: dict[object, Deframer] = {}
        self._numbers = itertools.count(1)
        self._corruptions = itertools.cycle(("escape", "truncate", "callsign", "addressee"))
        self._outstanding: dict[tuple[str, str], int] = {}  # (station, msgno) -> copies left
        self._forced: set[tuple[str, str]] = set()  # sent `copies` times whatever the acks

    # ---- lifecycle ------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        if self.want_pty:
            self._open_pty()
        if self.tcp_port is not None:
            self._server = await asyncio.start_server(self._serve_client, self.tcp_host, self.tcp_port)
            self.tcp_port = int(self._server.sockets[0].getsockname()[1])
        for station in self.stations.values():
            if station.lat is not None and station.lon is not None and station.beacon_interval > 0:
                self._later(station.beacon_interval, self._beacon_loop, station)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        if self._server is not None:
            self._server.close()
        for w in list(self._clients):
            w.close()
        if self._client_tasks:  # closing a client ends its reader with EOF: no cancellation
            _, stuck = await asyncio.wait(list(self._client_tasks), timeout=2.0)
            for task in stuck:
                task.cancel()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self._close_pty()

    def _open_pty(self) -> None:
        self._pty = RawPty(self.pty_link)  # raw from the start (sip-radio.md §5)
        self._master = self._pty.master
        self.pty_path = self._pty.path
        self._loop.add_reader(self._master, self._pty_readable)

    def _close_pty(self) -> None:
        if self._master < 0:
            return
        self._loop.remove_reader(self._master)
        self._loop.remove_writer(self._master)
        self._pty.close()
        self._master = -1

    @property
    def device(self) -> str:
        """The path a host opens: the symlink if there is one, else the pty itself."""
        if self.pty_link is not None:
            return str(self.pty_link)
        if self.pty_path is None:
            raise RuntimeError("no pseudo-terminal")
        return self.pty_path

    # ---- host side ------------------------------------------------------------------------------
    def _pty_readable(self) -> None:
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError:  # EIO: nobody has the port open
            return
        self._from_host("pty", data)

    def _pty_write(self, data: bytes) -> None:
        if self._master < 0:
            return
        self._pty_out += data
        self._pty_flush()

    def _pty_flush(self) -> None:
        try:
            n = os.write(self._master, self._pty_out)
        except BlockingIOError:
            n = 0
        except OSError:
            self._pty_out.clear()
            return
        del self._pty_out[:n]
        if self._pty_out:
            self._loop.add_writer(self._master, self._pty_flush)
        else:
            self._loop.remove_writer(self._master)

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._client_tasks.add(task)
        self._clients.add(writer)
        try:
            while data := await reader.read(4096):
                self._from_host(writer, data)
        except OSError:
            pass
        finally:
            self._clients.discard(writer)
            self._deframers.pop(writer, None)
            writer.close()
            if task is not None:
                self._client_tasks.discard(task)

    def disconnect_clients(self) -> None:
        """Drop every TCP host (as a TNC restart would)."""
        for w in list(self._clients):
            w.close()

    def _from_host(self, who: object, data: bytes) -> None:
        deframer = self._deframers.setdefault(who, Deframer())
        bad = deframer.bad
        for type_byte, payload in deframer.push(data):
            self._host_frame(type_byte, payload)
        self.bad_from_host += deframer.bad - bad

    def _host_frame(self, type_byte: int, payload: bytes) -> None:
        if self.faults.silent:
            return
        command = type_byte & 0x0F
        if type_byte != 0xFF and command != 0:
            if payload:
                self.params[command] = payload[0]
            return
        if type_byte != 0x00:
            return
        try:
            frame = ax25_unpack(payload)
        except ValueError:
            self.bad_from_host += 1
            return
        self.on_air.append(frame.tnc2())
        if self.faults.lose_uplink > 0:
            self.faults.lose_uplink -= 1
            return
        self._digipeat(frame)
        aprs = aprs_parse(frame.info)
        station = self.stations.get(aprs.to.upper()) if aprs is not None else None
        if aprs is not None and station is not None:
            self._hear(station, frame.src, aprs)

    def _digipeat(self, frame: Ax25) -> None:
        if self.digipeater is None:
            return
        for i, (name, used) in enumerate(frame.digis):
            if used:
                continue
            if name.upper().startswith("WIDE"):
                digis = [*frame.digis[:i], (self.digipeater, True), *frame.digis[i + 1 :]]
                self._later(0.01, self._to_host, Ax25(frame.dst, frame.src, digis, frame.info))
            return

    # ---- stations -------------------------------------------------------------------------------
    def _hear(self, station: Station, source: str, aprs: Aprs) -> None:
        if aprs.kind in ("ack", "rej"):
            if aprs.no is not None:
                station.acked.append(aprs.no)
                if (station.callsign, aprs.no) not in self._forced:
                    self._outstanding.pop((station.callsign, aprs.no), None)
                self._say(f"{station.callsign} got {aprs.kind}{aprs.no} from {source}")
            return
        first = not any(h.source == source and h.msgno == aprs.no for h in station.received)
        station.received.append(Heard(station.callsign, source, aprs.text, aprs.no))
        self._say(
            f"{station.callsign} received from {source}: {aprs.text!r}"
            + (f" {{{aprs.no}}}" if aprs.no else "")
            + ("" if first or aprs.no is None else " (copy)")
        )
        if aprs.no is not None and (station.acks or station.reject):
            kind = "rej" if station.reject else "ack"
            self._later(station.ack_delay, self._station_ack, station, source, aprs.no, kind)
        if station.reply is not None and first and not station.reject:
            self._later(station.reply_delay, self.say, station.callsign, station.reply, source)

    def _station_ack(self, station: Station, to: str, no: str, kind: str) -> None:
        if self.faults.lose_acks > 0:
            self.faults.lose_acks -= 1
            self._say(f"{station.callsign}: {kind}{no} to {to} lost on the air")
            return
        self._to_host(Ax25("APRS", station.callsign, [], aprs_ack(to, no, kind)))

    def say(
        self, callsign: str, text: str, to: str, *, msgno: str | None = "auto", copies: int = 0
    ) -> str | None:
        """Station `callsign` sends `text` to `to`, numbered unless msgno is None, and retransmits
        it until acked (up to the station's retries); `copies` > 0 sends exactly that many copies,
        acked or not. Returns the message number."""
        station = self.stations[callsign.upper()]
        no = str(next(self._numbers)) if msgno == "auto" else msgno
        frame = Ax25("APRS", station.callsign, [], aprs_message(to, text, no))
        if no is None:
            self._to_host(frame)
            return None
        key = (station.callsign, no)
        self._outstanding[key] = copies or (1 + station.retries)
        if copies:
            self._forced.add(key)
        self._send_copy(station, key, frame, forced=copies > 0)
        return no

    def beacon(
        self,
        callsign: str,
        lat: float | None = None,
        lon: float | None = None,
        *,
        at: float | None = None,
        compressed: bool | None = None,
    ) -> str:
        """Station `callsign` sends a position report (moving it there first, if lat/lon are
        given); `at`: epoch seconds of the fix, sent as a DDHHMMz timestamp (else no timestamp).
        Returns the info field sent."""
        station = self.stations[callsign.upper()]
        if lat is not None and lon is not None:
            station.lat, station.lon = lat, lon
        if station.lat is None or station.lon is None:
            raise ValueError(f"{station.callsign} has no position to beacon")
        zulu = None
        if at is not None:
            t = time.gmtime(at)
            zulu = (t.tm_mday, t.tm_hour, t.tm_min)
        squeeze = station.compressed if compressed is None else compressed
        info = aprs_position(
            station.lat, station.lon, zulu=zulu, compressed=squeeze, comment=station.callsign
        )
        self._to_host(Ax25("APRS", station.callsign, [], info))
        return info.decode("ascii")

    def _beacon_loop(self, station: Station) -> None:
        self.beacon(station.callsign)
        self._later(station.beacon_interval, self._beacon_loop, station)

    def _send_copy(self, station: Station, key: tuple[str, str], frame: Ax25, *, forced: bool) -> None:
        left = self._outstanding.get(key, 0)
        if left <= 0:
            return
        self._outstanding[key] = left - 1
        self._to_host(frame)
        if left > 1:
            interval = 0.05 if forced else station.retry_interval
            self._later(interval, self._send_copy, station, key, frame, forced=forced)

    # ---- to the host ----------------------------------------------------------------------------
    def _to_host(self, frame: Ax25) -> None:
        if self.faults.silent:
            return
        self.to_host.append(frame.tnc2())
        raw = ax25_pack(frame.dst, frame.src, frame.digis, frame.info)
        data = kiss_wrap(raw)
        if self.faults.corrupt > 0:
            self.faults.corrupt -= 1
            data = self._corrupt(raw)
        self.send_raw(data)

    def send_raw(self, data: bytes) -> None:
        """Bytes to every host as they are (line noise, hand-made frames)."""
        self._pty_write(data)
        for w in list(self._clients):
            if not w.is_closing():
                w.write(data)

    def _corrupt(self, raw: bytes) -> bytes:
        how = next(self._corruptions)
        if how == "escape":  # FESC followed by a byte that is neither TFEND nor TFESC
            return bytes([0xC0, 0x00]) + raw[:5] + bytes([0xDB, 0x41]) + raw[5:] + bytes([0xC0])
        if how == "truncate":  # cut inside the address field
            return kiss_wrap(raw[:10])
        if how == "callsign":  # low bit set in a callsign octet
            return kiss_wrap(bytes([raw[0] | 0x01]) + raw[1:])
        # a message whose addressee field lost its padding
        return kiss_wrap(ax25_pack("APRS", "N0SIM", [], b":N0GW:ack1"))

    def _later(self, delay: float, fn: Callable[..., object], *args: object, **kwargs: object) -> None:
        def run() -> None:
            self._timers.discard(handle)
            fn(*args, **kwargs)

        handle = self._loop.call_later(delay, run)
        self._timers.add(handle)

    def _say(self, line: str) -> None:
        log.info("kiss-tnc: %s", line)
        if self.printer is not None:
            self.printer(line)
