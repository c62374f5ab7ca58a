"""I/O of the KISS/APRS radio channel: one link to a KISS TNC (serial port or TCP), two loops.

- `link`: opens the port, reads and decodes frames until the link is lost, reopens with
  back-off. Acks for incoming messages are written from here.
- `timers`: retransmits unacked messages on the retry schedule, reports undelivered ones, and
  judges the TNC silent when nothing at all is heard after a transmission (then the link is
  reopened and a status packet probes for an echo until something is heard again).

Both run as supervised children of the channel (`Component.start_task`, adapters/base.py); the
line is opened by adapters/transport.py and the protocol work is done by the sans-I/O `framing`,
`aprs` and `messaging` modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from adapters.backoff import reconnect_delays
from adapters.base import Capabilities, Channel, ChannelEvent, HealthState, OutboundMessage, SendReceipt
from adapters.radio_kiss import framing
from adapters.radio_kiss.aprs import AprsError
from adapters.radio_kiss.framing import Address, Command, FrameError, UIFrame
from adapters.radio_kiss.messaging import MSGNO_LIMIT, Messenger
from adapters.radio_kiss.options import Options
from adapters.transport import open_line

log = logging.getLogger(__name__)
READ_SIZE = 4096


@dataclass
class LinkStats:
    opens: int = 0
    frames_in: int = 0
    frames_out: int = 0
    garbled: int = 0  # frames that could not be decoded (KISS, AX.25, APRS message or position errors)
    ignored: int = 0  # valid frames of no concern (other ports, non-UI, not for us, copies)
    echoes: int = 0  # our own packets repeated by a digipeater
    discarded_bytes: int = 0  # line noise outside any KISS frame


class KissRadioChannel(Channel):
    kind = "kiss_radio"

    def __init__(self, *, name: str, options: Options, rng: random.Random | None = None) -> None:
        super().__init__(
            name=name,
            capabilities=Capabilities(
                max_length=options.max_length,
                max_parts=options.max_parts,
                confirms_delivery=True,
                two_way=True,
            ),
        )
        self.options = options
        first = options.first_msgno or (rng or random.Random()).randrange(1, MSGNO_LIMIT)
        self.messenger = Messenger(
            station=Address.parse(options.callsign),
            destination=Address.parse(options.destination),
            path=[Address.parse(p) for p in options.path],
            retry_intervals=options.retry_intervals,
            duplicate_window=options.duplicate_window,
            first_msgno=first,
        )
        self.stats = LinkStats()
        self.where = options.line.where
        self._writer: asyncio.StreamWriter | None = None
        self._started = False
        self._drop_reason = ""
        self._silent = False
        self._silent_reason = ""
        self._unanswered_since: float | None = None
        self._next_probe: float | None = None
        self._probe_delays = reconnect_delays(first=options.reconnect_min, cap=options.reconnect_max)

    # ---- lifecycle (the skeleton in adapters/base.py) ----------------------------------------
    async def _open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._write_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._tried = asyncio.Event()
        self._started = True
        self.start_task("link", self._link_loop)
        self.start_task("timers", self._timer_loop)
        # Wait for the first open to succeed or fail; a TNC that is not there yet is only DOWN.
        await self._tried.wait()

    async def _close(self) -> None:
        self._started = False
        self.set_health(HealthState.DOWN, "stopped")

    # ---- send -----------------------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendReceipt:
        address = message.address
        if not self._started:
            raise self.fail("channel not started", temporary=True, endpoint=address)
        try:
            sub = self.messenger.submit(address, message.parts, self._loop.time())
        except AprsError as exc:
            raise self.fail(
                f"cannot send over APRS: {exc.reason}", temporary=False, endpoint=address
            ) from exc
        if self._writer is None:
            self.messenger.withdraw(sub.ref)
            raise self.fail(f"radio link down: {self.health.reason}", temporary=True, endpoint=address)
        try:
            await self._transmit(sub.frames)
        except (OSError, TimeoutError) as exc:
            self.messenger.withdraw(sub.ref)
            self._drop_link(f"write failed: {exc!r}")
            raise self.fail(
                f"could not write to the TNC: {type(exc).__name__}", temporary=True, endpoint=address
            ) from exc
        self._wake.set()
        return SendReceipt(
            channel_ref=sub.ref,
            evidence={"aprs_to": sub.addressee, "aprs_msgnos": list(sub.msgnos), "tnc": self.where},
        )

    async def _transmit(self, frames: Sequence[UIFrame]) -> None:
        writer = self._writer
        if writer is None:
            raise ConnectionResetError("link down")
        data = b"".join(framing.encode_kiss(f.encode(), port=self.options.kiss_port) for f in frames)
        async with self._write_lock:
            writer.write(data)
            async with asyncio.timeout(self.options.write_timeout):
                await writer.drain()
        self.stats.frames_out += len(frames)
        if self._unanswered_since is None:
            self._unanswered_since = self._loop.time()
        self._wake.set()

    def _emit_all(self, events: Sequence[ChannelEvent]) -> None:
        for event in events:
            log.info("kiss_radio %s: %s", self.name, type(event).__name__)
            self.emit(event)

    # ---- the link -------------------------------------------------------------------------------
    async def _link_loop(self) -> None:
        """The link's own reconnect loop; `_tried` is set even if it crashes (a bug), so that
        entering the channel never hangs on it."""
        try:
            await self._keep_link()
        finally:
            self._tried.set()

    async def _keep_link(self) -> None:
        delays = reconnect_delays(first=self.options.reconnect_min, cap=self.options.reconnect_max)
        while True:
            try:
                async with asyncio.timeout(self.options.open_timeout):
                    reader, writer = await open_line(self.options.line)
            except (OSError, ValueError, TimeoutError, termios.error) as exc:
                self.set_health(HealthState.DOWN, f"cannot open {self.where}: {exc!r}")
                self._tried.set()
                await asyncio.sleep(next(delays))
                continue
            self.stats.opens += 1
            self._drop_reason = ""
            self._unanswered_since = None
            self._writer = writer
            log.info("kiss_radio %s: link %d open on %s", self.name, self.stats.opens, self.where)
            try:
                reason = await self._serve(reader, writer)
            finally:  # also when the channel is stopped: the port is never left open
                self._writer = None
                writer.close()
                with contextlib.suppress(OSError, TimeoutError):
                    async with asyncio.timeout(self.options.write_timeout):
                        await writer.wait_closed()
            log.warning("kiss_radio %s: link %d lost: %s", self.name, self.stats.opens, reason)
            if self._silent:
                self.set_health(HealthState.DOWN, self._silent_reason)
            else:
                self.set_health(HealthState.DOWN, f"link to {self.where} lost: {reason}")
                delays = reconnect_delays(first=self.options.reconnect_min, cap=self.options.reconnect_max)
            self._tried.set()
            await asyncio.sleep(next(delays))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
        """Configure the TNC, then read until the link is lost; returns why it was lost."""
        try:
            await self._configure(writer)
        except (OSError, TimeoutError) as exc:
            return f"could not configure the TNC: {exc!r}"
        if self._silent:
            self.set_health(HealthState.DOWN, f"{self._silent_reason}; probing")
        else:
            self.set_health(HealthState.UP, f"KISS TNC on {self.where}")
        self._tried.set()
        decoder = framing.KissDecoder()
        while True:
            try:
                data = await reader.read(READ_SIZE)
            except OSError as exc:
                return self._drop_reason or f"read failed: {exc!r}"
            if not data:
                return self._drop_reason or "closed by the TNC"
            self._heard()
            before = decoder.discarded
            for item in decoder.feed(data):
                await self._on_frame(item)
            self.stats.discarded_bytes += decoder.discarded - before

    async def _configure(self, writer: asyncio.StreamWriter) -> None:
        """KISS §3: optional channel-access parameters, sent after every open."""
        o = self.options
        params = [
            (Command.TX_DELAY, o.txdelay),
            (Command.PERSISTENCE, o.persistence),
            (Command.SLOT_TIME, o.slot_time),
        ]
        data = b"".join(
            framing.encode_kiss(bytes([v]), port=o.kiss_port, command=c) for c, v in params if v is not None
        )
        if data:
            writer.write(data)
            async with asyncio.timeout(o.write_timeout):
                await writer.drain()

    def _drop_link(self, reason: str) -> None:
        """Close the link; the link loop notices, reports why and reopens with back-off."""
        writer = self._writer
        if writer is not None and not writer.is_closing():
            self._drop_reason = reason
            writer.close()

    def _heard(self) -> None:
        """Anything from the TNC proves it alive."""
        self._unanswered_since = None
        if self._silent:
            self._silent = False
            self._next_probe = None
            self._probe_delays = reconnect_delays(
                first=self.options.reconnect_min, cap=self.options.reconnect_max
            )
            log.info("kiss_radio %s: TNC heard again", self.name)
            self.set_health(HealthState.UP, f"KISS TNC on {self.where}")

    async def _on_frame(self, item: framing.KissFrame | framing.KissError) -> None:
        if isinstance(item, framing.KissError):
            self._garbled(item)
            return
        if item.command != Command.DATA or item.port != self.options.kiss_port:
            self.stats.ignored += 1
            return
        self.stats.frames_in += 1
        try:
            frame = UIFrame.decode(item.data)
            reaction = self.messenger.receive(frame, self._loop.time(), wall=time.time())
        except framing.UnsupportedFrame as exc:
            self.stats.ignored += 1
            log.debug("kiss_radio %s: ignored frame: %s", self.name, exc.reason)
            return
        except FrameError as exc:
            self._garbled(exc)
            return
        if reaction.echo:
            self.stats.echoes += 1
        elif reaction.ignored:
            self.stats.ignored += 1
            log.debug("kiss_radio %s: %s", self.name, reaction.ignored)
        if reaction.frames:
            try:
                await self._transmit(reaction.frames)
            except (OSError, TimeoutError) as exc:
                log.warning("kiss_radio %s: could not send an ack: %r", self.name, exc)
                self._drop_link(f"write failed: {exc!r}")
        self._emit_all(reaction.events)

    def _garbled(self, exc: FrameError) -> None:
        self.stats.garbled += 1
        log.warning(
            "kiss_radio %s: garbled frame dropped (%d so far): %s %s",
            self.name,
            self.stats.garbled,
            exc.reason,
            exc.data[:16].hex(),  # the address field at most: no message text in the log
        )

    # ---- timers ---------------------------------------------------------------------------------
    async def _timer_loop(self) -> None:
        while True:
            self._wake.clear()
            now = self._loop.time()
            deadlines = [d for d in (self.messenger.next_due(), *self._watch_deadlines()) if d is not None]
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            now = self._loop.time()
            reaction = self.messenger.poll(now)
            if reaction.frames and self._writer is not None:
                try:
                    await self._transmit(reaction.frames)
                except (OSError, TimeoutError) as exc:
                    log.warning("kiss_radio %s: retransmission failed: %r", self.name, exc)
                    self._drop_link(f"write failed: {exc!r}")
            self._emit_all(reaction.events)
            self._check_silence(now)
            await self._probe(now)

    def _watch_deadlines(self) -> tuple[float | None, float | None]:
        silence = self.options.silence_timeout
        since = self._unanswered_since
        judge = since + silence if silence is not None and since is not None else None
        probe = self._next_probe if self._silent and self._writer is not None else None
        return judge, probe

    def _check_silence(self, now: float) -> None:
        silence = self.options.silence_timeout
        since = self._unanswered_since
        if silence is None or since is None or now - since < silence:
            return
        if not self._silent:
            self._silent = True
            self._silent_reason = (
                f"TNC on {self.where} silent: nothing heard for {now - since:.0f}s after transmitting"
            )
            self._next_probe = now + next(self._probe_delays)
            self.set_health(HealthState.DOWN, self._silent_reason)
        log.warning("kiss_radio %s: %s; reopening the link", self.name, self._silent_reason)
        self._unanswered_since = None
        self._drop_link("TNC silent")

    async def _probe(self, now: float) -> None:
        """While silent, a status packet (APRS 1.0.1 ch. 16, ">text") invites an echo."""
        if not self._silent or self._writer is None or self._next_probe is None or now < self._next_probe:
            return
        self._next_probe = now + next(self._probe_delays)
        frame = UIFrame.command(
            self.messenger.destination,
            self.messenger.station,
            self.messenger.path,
            b">" + self.options.probe_text.encode("ascii"),
        )
        try:
            await self._transmit([frame])
        except (OSError, TimeoutError) as exc:
            self._drop_link(f"write failed: {exc!r}")


def build(name: str, options: dict[str, Any], max_length: int | None = None) -> Channel:
    merged = {**options, "max_length": max_length} if max_length is not None else options
    return KissRadioChannel(name=name, options=Options(**merged))
