"""The `sms_modem` channel: SMS through a pool of GSM modems (AT commands, PDU mode).

A receipt means the network accepted every part (`+CMGS: <mr>`); its `channel_ref` is
`<modem>:<TP-MR of the last part>:<destination>`. Status reports (`+CDS`, TP-ST, TS 23.040
§9.2.3.15) become `DeliveryReport`s once every part is settled; incoming SMS become `InboundText`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from typing import Any

from adapters.base import (
    Capabilities,
    Channel,
    DeliveryReport,
    HealthState,
    InboundText,
    OutboundMessage,
    SendReceipt,
)
from adapters.sms_modem.alphabet import PduError
from adapters.sms_modem.modem import Modem
from adapters.sms_modem.options import Options
from adapters.sms_modem.pdu import Deliver, StatusReport, submit_parts
from adapters.sms_modem.pdu_fields import encode_relative_vp
from adapters.sms_modem.pool import ModemPool, SendFailed
from adapters.sms_modem.reports import PendingReports, Reassembly

log = logging.getLogger(__name__)


class SmsModemChannel(Channel):
    kind = "sms_modem"

    def __init__(self, *, name: str, options: Options) -> None:
        super().__init__(
            name=name,
            capabilities=Capabilities(
                max_length=min(options.max_length or options.capacity, options.capacity),
                max_parts=1,  # we split into concatenated parts ourselves
                confirms_delivery=options.status_reports,
                two_way=True,
            ),
        )
        self.options = options
        self.reports = PendingReports()
        self.reassembly = Reassembly(timeout=options.reassembly_timeout)
        self.modems = [
            Modem(channel=name, options=m, timing=options, sink=self._incoming, on_change=self._modem_changed)
            for m in options.modems
        ]
        self.pool = ModemPool(self.modems, options=options)
        self.pool.on_change(self._update_health)
        self._concat_ref = 0
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []
        # Numbers as the core knows them (its contact plans), so a reply from +447700900001 is
        # reported as "07700900001" when that is the address we sent to.
        self._addresses: OrderedDict[str, str] = OrderedDict()

    # ---- lifecycle (the skeleton in adapters/base.py) ----------------------------------------
    async def _open(self) -> None:
        """Every modem's life (`Modem.run`) is a supervised child; wait for the first checks."""
        self.set_health(HealthState.DOWN, "starting")
        self._running = True
        self._tasks = [self.start_task(modem.name, modem.run) for modem in self.modems]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.options.start_timeout):
                await self.pool.settled()
        self._update_health()

    async def _close(self) -> None:
        """Stop the modems first (each closes its port), then report the channel stopped."""
        for modem in self.modems:
            self.stop_task(modem.name)
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._running = False
        self.set_health(HealthState.DOWN, "stopped")

    def _modem_changed(self, modem: Modem) -> None:
        self.pool.changed(modem)

    def _update_health(self) -> None:
        if not self._running:
            return
        state, reason = self.pool.health()
        self.set_health(state, reason)

    # ---- sending -------------------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendReceipt:
        if not self._running:
            raise self.fail("channel not started", temporary=True, endpoint=message.address)
        destination = "".join(c for c in message.address if c not in " -.()/")
        self._remember(message.address)
        self._concat_ref = (self._concat_ref + 1) % 256
        vp = self.options.validity_minutes
        try:
            plan = submit_parts(
                destination,
                message.text,
                ref=self._concat_ref,
                max_parts=self.options.max_parts,
                status_report=self.options.status_reports,
                validity=encode_relative_vp(vp) if vp is not None else None,
            )
        except PduError as exc:
            reason = f"cannot encode: {exc.problem}"
            raise self.fail(reason, temporary=False, endpoint=message.address) from exc
        try:
            sent = await self.pool.send(plan.parts)
        except SendFailed as exc:
            raise self.fail(
                exc.reason, temporary=exc.temporary, endpoint=message.address, **exc.evidence
            ) from exc
        ref = f"{sent.modem}:{sent.mrs[-1]}:{destination}"
        if self.options.status_reports:
            self.reports.expect(modem=sent.modem, mrs=sent.mrs, destination=destination, ref=ref)
        evidence: dict[str, Any] = {"modem": sent.modem, "tp_mr": sent.mrs, "parts": len(plan.parts)}
        evidence["alphabet"] = plan.alphabet.value
        if plan.truncated:
            evidence["truncated"] = True
        if sent.tried:
            evidence["tried"] = sent.tried
        return SendReceipt(channel_ref=ref, evidence=evidence)

    # ---- incoming ------------------------------------------------------------------------------
    def _incoming(self, modem: Modem, sms: Deliver | StatusReport) -> None:
        if isinstance(sms, StatusReport):
            outcome = self.reports.match(modem.name, sms)
            if outcome is None:
                log.debug("sms_modem %s: report for %s:%d matches nothing", self.name, modem.name, sms.mr)
                return
            self.emit(
                DeliveryReport(
                    outcome.channel_ref,
                    delivered=outcome.delivered,
                    reason=f"TP-ST 0x{sms.status:02X}: {sms.meaning}",
                    evidence={
                        "tp_st": sms.status,
                        "tp_mr": sms.mr,
                        "modem": modem.name,
                        "discharge_time": sms.discharge_time.isoformat(),
                    },
                )
            )
            return
        now = asyncio.get_running_loop().time()
        for sender, text, parts in self.reassembly.add(modem.name, sms, now):
            evidence: dict[str, Any] = {"modem": modem.name, "scts": sms.timestamp.isoformat()}
            if parts > 1:
                evidence["parts"] = parts
            address = self._addresses.get(_key(sender), sender)
            if address != sender:
                evidence["sender"] = sender
            self.emit(InboundText(address=address, text=text, evidence=evidence))

    def _remember(self, address: str) -> None:
        key = _key(address)
        self._addresses[key] = address
        self._addresses.move_to_end(key)
        while len(self._addresses) > ADDRESS_MEMORY:
            self._addresses.popitem(last=False)


ADDRESS_MEMORY = 10_000


def _key(number: str) -> str:
    """The last 9 digits: the same subscriber in international or national form (as `same_number`)."""
    digits = "".join(c for c in number if c.isdigit())
    return digits[-9:] if len(digits) >= 6 else number.strip().lower()


def build(name: str, options: dict[str, Any], max_length: int | None = None) -> Channel:
    opts = Options(**options)
    if max_length is not None:
        opts = opts.model_copy(update={"max_length": max_length})
    return SmsModemChannel(name=name, options=opts)
