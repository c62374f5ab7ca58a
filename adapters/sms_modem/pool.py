"""A pool of modems sharing the load: a send takes an idle ready modem (least used first). A modem
that fails is benched (closed, reopened and rechecked after a back-off) and the send moves on to
another modem when the failure was the modem's, not the message's."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.base import HealthState
from adapters.errors import CalloutError
from adapters.sms_modem import answers, codec
from adapters.sms_modem.modem import Modem, ModemFault, ModemState, why
from adapters.sms_modem.options import Options
from adapters.sms_modem.pdu import SubmitPart

log = logging.getLogger(__name__)


class SendFailed(CalloutError):
    def __init__(self, reason: str, *, temporary: bool, evidence: dict[str, Any]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary
        self.evidence = evidence


@dataclass(frozen=True, slots=True)
class Sent:
    modem: str
    mrs: list[int]
    tried: dict[str, str] = field(default_factory=dict)  # modems that failed first, and why


class ModemPool:
    def __init__(self, modems: list[Modem], *, options: Options) -> None:
        self.modems = modems
        self.options = options
        self._changed = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def changed(self, _modem: Modem | None = None) -> None:
        """A modem changed state or became idle: wake waiting sends, tell the channel."""
        self._changed.set()
        for listener in self._listeners:
            listener()

    async def settled(self) -> None:
        """Wait until no modem is still in its first start-up checks."""
        while any(m.state is ModemState.STARTING for m in self.modems):
            self._changed.clear()
            await self._changed.wait()

    def health(self) -> tuple[HealthState, str]:
        ready = [m for m in self.modems if m.state is ModemState.READY]
        others = "; ".join(f"{m.name}: {m.reason}" for m in self.modems if m.state is not ModemState.READY)
        if not ready:
            return HealthState.DOWN, others
        if others:
            return HealthState.DEGRADED, f"{len(ready)} of {len(self.modems)} modems ready; {others}"
        detail = "; ".join(f"{m.name}: {m.reason}" for m in ready)
        return HealthState.UP, f"{len(ready)} modem{'s' if len(ready) > 1 else ''} ready ({detail})"

    # ---- sending -------------------------------------------------------------------------------
    async def send(self, parts: list[SubmitPart]) -> Sent:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.send_deadline
        tried: dict[str, str] = {}
        last: dict[str, Any] = {}  # evidence of the last failure
        temporary = False  # was any failure worth retrying?
        while True:
            modem = await self._acquire(tried, deadline, last, temporary)
            try:
                mrs = await self._send_on(modem, parts)
            except _Rejected as exc:
                v = exc.verdict
                tried[modem.name] = v.reason
                last = {"modem": modem.name, "cms_error": v.code}
                if v.modem_fault:
                    temporary = temporary or v.temporary
                    modem.bench(v.reason)
                    continue  # another modem may do better
                if not v.temporary:
                    raise SendFailed(v.reason, temporary=False, evidence={**last, "tried": tried}) from None
                temporary = True
                modem.failures += 1
                if modem.failures >= self.options.bench_after:
                    modem.bench(f"{modem.failures} failed sends in a row, last {v.reason}")
            except ModemFault as exc:
                tried[modem.name] = exc.reason
                last, temporary = {"modem": modem.name}, True
            else:
                modem.failures = 0
                modem.sent += 1
                return Sent(modem.name, mrs, tried)
            finally:
                modem.busy = False
                self.changed(modem)

    async def _send_on(self, modem: Modem, parts: list[SubmitPart]) -> list[int]:
        mrs = []
        for part in parts:
            resp = await modem.submit(part)
            if not resp.final.ok:
                code = resp.final.code if resp.final.kind is codec.FinalKind.CMS_ERROR else None
                raise _Rejected(answers.classify_cms(code, resp.final.text))
            try:
                mrs.append(answers.parse_cmgs(resp.info))
            except codec.AtError as exc:
                raise ModemFault(f"unreadable +CMGS answer: {why(exc)}") from exc
        return mrs

    async def _acquire(
        self, tried: dict[str, str], deadline: float, last: dict[str, Any], temporary: bool
    ) -> Modem:
        """The least used idle ready modem not tried yet; waits while all of them are busy."""
        loop = asyncio.get_running_loop()
        while True:
            usable = [m for m in self.modems if m.state is ModemState.READY and m.name not in tried]
            idle = [m for m in usable if not m.busy]
            if idle:
                modem = min(idle, key=lambda m: m.sent)
                modem.busy = True
                return modem
            if not usable:
                raise self._exhausted(tried, last, temporary)
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SendFailed(
                    f"all modems busy for {self.options.send_deadline:g}s",
                    temporary=True,
                    evidence={"tried": dict(tried)},
                )
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                continue

    def _exhausted(self, tried: dict[str, str], last: dict[str, Any], temporary: bool) -> SendFailed:
        """No modem left to try. Permanent only when every modem tried needs an operator (SIM)."""
        if not tried:
            return SendFailed("no modem ready: " + self.health()[1], temporary=True, evidence={})
        reason = "; ".join(f"{name}: {why}" for name, why in tried.items())
        return SendFailed(reason, temporary=temporary, evidence={**last, "tried": dict(tried)})


class _Rejected(CalloutError):
    def __init__(self, verdict: answers.CmsVerdict) -> None:
        super().__init__(verdict.reason)
        self.verdict = verdict
