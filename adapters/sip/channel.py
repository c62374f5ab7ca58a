"""The asyncio side of the SIP CTI source: a thin bridge to the pjsua2 thread (desk.py).

Nothing here touches pjsua2. Work goes into the pjsua2 thread through `DeskThread.submit` (a
queue drained between `libHandleEvents` polls); events come back with `loop.call_soon_threadsafe`
straight into `CtiSource.emit`, in the order pjsua2 produced them. On the lifecycle skeleton
(`Component`): `_open()` starts the thread and waits until it listens; stopping it is the first
clean-up on the exit stack, so it also runs when the start fails. No asyncio task is needed: the
thread itself posts every event and health change.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from adapters.base import HealthState
from adapters.cti import CtiSource
from adapters.errors import ChannelError, ChannelUnavailable
from adapters.sip.options import Options

if TYPE_CHECKING:
    from adapters.sip.desk import DeskThread

log = logging.getLogger(__name__)
INSTALL_HINT = "install the sip extra: pip install 'callout[sip]'"


def _desk_module() -> ModuleType:
    """adapters.sip.desk imports pjsua2; a missing wheel is a ChannelUnavailable, not an ImportError."""
    try:
        from adapters.sip import desk
    except ImportError as exc:
        raise ChannelUnavailable("sip", INSTALL_HINT) from exc
    return desk


class SipSource(CtiSource):
    """callout as the desk's SIP endpoint: rings, answers (auto or `answer()`), reports calls."""

    kind = "sip"

    def __init__(self, *, name: str, options: Options, clock: Callable[[], float] = time.time) -> None:
        super().__init__(name=name)
        self.options = options
        self._clock = clock
        self._desk = _desk_module()
        self._thread: DeskThread | None = None
        self.local_port: int | None = None  # the UDP port actually bound (options.port may be 0)

    async def _open(self) -> None:
        if self._thread is not None:
            raise ChannelError("the SIP source is already running", channel=self.name, temporary=False)
        o = self.options
        config = self._desk.DeskConfig(
            source=self.name,
            bind_address=o.bind_address,
            port=o.port,
            desk=o.desk,
            auto_answer=o.auto_answer,
            answer_delay=o.answer_delay_ms / 1000,
            registrar=o.registrar,
            username=o.username,
            password=o.password.get_secret_value() if o.password else None,
            realm=o.realm,
            max_calls=o.max_calls,
            media=o.media,
            log_level=o.pjsip_log_level,
            clock=self._clock,
        )
        thread: DeskThread = self._desk.DeskThread(
            config, loop=asyncio.get_running_loop(), on_event=self.emit, on_health=self.set_health
        )
        self.set_health(HealthState.DOWN, "starting")
        thread.launch()
        self._thread = thread
        self.stack.push_async_callback(self._stop_thread)  # also when the start below fails
        self.local_port = await asyncio.wrap_future(thread.started)

    async def _stop_thread(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.stop()
        # Shielded: even if our caller is cancelled, pjsua2 finishes its teardown in its thread.
        await asyncio.shield(asyncio.wrap_future(thread.finished))
        await asyncio.sleep(0)  # the thread's last health report, posted before `finished`

    async def answer(self, call_id: str) -> None:
        """Pick up a ringing call. NotFound: no such ringing call; Conflict: already answered."""
        thread = self._thread
        if thread is None:
            raise ChannelError("the SIP source is not running", channel=self.name, temporary=True)
        await asyncio.wrap_future(thread.submit(lambda: thread.answer_call(call_id)))


def build(name: str, options: dict[str, Any]) -> CtiSource:
    """Factory for the core: validates the options, then needs pjsua2 (ChannelUnavailable)."""
    opts = Options(**options)
    if opts.workers:
        _desk_module()  # the workers need pjsua2: ChannelUnavailable here, not in a subprocess
        from adapters.sip.pool import PooledSipSource

        return PooledSipSource(name=name, options=opts)
    return SipSource(name=name, options=opts)
