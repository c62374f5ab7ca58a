"""One channel call: fit the message, hand it over, turn whatever happens into an `Outcome`.

No store access here: outcomes are recorded by the engine in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.base import Capabilities, Channel, OutboundMessage, SendReceipt
from gateway.clock import Clock
from gateway.domain.models import Attempt, Delivery
from gateway.errors import ChannelError
from gateway.metrics import Metrics
from gateway.policies.fitting import fit_message

log = logging.getLogger(__name__)
# An endpoint naming a row of `subjects` (a caller's survey): the number is read at send time, so
# the outbox and the audit trail never hold it (docs/privacy.md).
SUBJECT_PREFIX = "subject:"
AddressResolver = Callable[[str], Awaitable[str | None]]


@dataclass(slots=True)
class Outcome:
    attempt_id: int
    channel: str
    receipt: SendReceipt | None = None
    error: ChannelError | None = None
    caps: Capabilities | None = None
    evidence: dict[str, Any] = field(default_factory=dict)  # how the text was fitted


class ChannelSlots:
    """At most `limit` sends under way on one channel (`[delivery] channel_in_flight`); None: no
    bound but the engine's `concurrency`."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._slots: dict[str, asyncio.Semaphore] = {}

    def hold(self, channel: str) -> contextlib.AbstractAsyncContextManager[object]:
        if self.limit is None:
            return contextlib.nullcontext()
        slot = self._slots.get(channel)
        if slot is None:
            slot = self._slots[channel] = asyncio.Semaphore(self.limit)
        return slot


def fitted_message(
    channel: Channel, a: Attempt, d: Delivery, ref: str, *, address: str | None = None
) -> tuple[OutboundMessage, dict[str, Any]]:
    """The message for this endpoint, cut to the tighter of the channel's and the endpoint's limit."""
    limit = channel.capabilities.max_length
    endpoint_limit = d.plan[a.endpoint_index].max_length
    if endpoint_limit is not None:
        limit = min(limit, endpoint_limit)
    fitted = fit_message(d.text, max_length=limit, max_parts=channel.capabilities.max_parts)
    msg = OutboundMessage(
        message_id=str(a.id),
        address=address or a.address,
        parts=fitted.parts,
        incident_ref=ref,
        priority=d.priority.value,
        needs_ack=d.needs_ack,
        purpose=d.purpose.value,
    )
    evidence = (
        {"parts": len(fitted.parts), "truncated": fitted.truncated}
        if (fitted.truncated or fitted.split)
        else {}
    )
    return msg, evidence


async def call_channel(
    channel: Channel | None,
    a: Attempt,
    d: Delivery,
    ref: str,
    *,
    send_timeout: float,
    clock: Clock,
    metrics: Metrics,
    resolve: AddressResolver | None = None,
) -> Outcome:
    if channel is None:
        return Outcome(
            a.id, a.channel, error=ChannelError("channel not configured", channel=a.channel, temporary=False)
        )
    address = a.address
    if address.startswith(SUBJECT_PREFIX):
        found = await resolve(address) if resolve is not None else None
        if found is None:  # erased or purged since the delivery was written: nobody to send to
            error = ChannelError("the caller's number is no longer held", channel=a.channel, temporary=False)
            return Outcome(a.id, a.channel, error=error, caps=channel.capabilities)
        address = found
    msg, evidence = fitted_message(channel, a, d, ref, address=address)
    started = clock.now()
    try:
        async with asyncio.timeout(send_timeout):
            receipt = await channel.send(msg)
    except ChannelError as exc:
        return Outcome(a.id, a.channel, error=exc, caps=channel.capabilities, evidence=evidence)
    except TimeoutError:
        error = ChannelError(f"no answer within {send_timeout:g}s", channel=a.channel, temporary=True)
        return Outcome(a.id, a.channel, error=error, caps=channel.capabilities, evidence=evidence)
    except Exception as exc:  # a channel bug must not stall the outbox: retry, and log it
        log.exception("channel %s raised an untyped error", a.channel)
        error = ChannelError(f"unexpected error: {exc!r}", channel=a.channel, temporary=True)
        return Outcome(a.id, a.channel, error=error, caps=channel.capabilities, evidence=evidence)
    metrics.send_seconds.labels(a.channel).observe(max(0.0, clock.now() - started))
    return Outcome(a.id, a.channel, receipt=receipt, caps=channel.capabilities, evidence=evidence)
