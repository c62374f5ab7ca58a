"""New deliveries: one message to one recipient, audited and handed to the engine at once."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.domain.models import Delivery, Endpoint, Incident
from gateway.domain.states import DeliveryMode, DeliveryState, Priority, Purpose, RecipientKind
from gateway.services.core import Core
from gateway.store import Tx


@dataclass(frozen=True, slots=True)
class Recipient:
    kind: RecipientKind
    id: str
    plan: list[Endpoint]


@dataclass(frozen=True, slots=True)
class Terms:
    """How a delivery goes out: what it says, whether an ack is awaited, and its deadlines."""

    purpose: Purpose
    text: str
    needs_ack: bool
    mode: DeliveryMode
    confirm: float
    ack: float


async def new_delivery(
    core: Core, tx: Tx, inc: Incident, dispatch_id: int, *, to: Recipient, terms: Terms
) -> Delivery:
    now = core.clock.now()
    plan, on_call = core.resolve_plan(list(to.plan))  # schedules resolve at send time
    d = await tx.insert_delivery(
        Delivery(
            id=0,
            dispatch_id=dispatch_id,
            incident_id=inc.id,
            recipient_kind=to.kind,
            recipient_id=to.id,
            purpose=terms.purpose,
            text=terms.text,
            priority=inc.priority or Priority.P4,
            mode=terms.mode,
            needs_ack=terms.needs_ack,
            plan=plan,
            state=DeliveryState.PENDING,
            created_at=now,
            updated_at=now,
            confirm_timeout=terms.confirm,
            ack_timeout=terms.ack,
        )
    )
    await tx.record(
        "delivery.created",
        incident=inc,
        delivery_id=d.id,
        at=now,
        data={
            "delivery": d.id,
            "recipient": to.id,
            "recipient_kind": to.kind,
            "purpose": terms.purpose.value,
            "mode": terms.mode.value,
            "needs_ack": terms.needs_ack,
            "plan": [f"{e.channel}:{e.address}" for e in plan],
            **({"on_call": on_call} if on_call else {}),
        },
    )
    await core.engine.advance(tx, d, [])  # a new delivery has no attempts yet
    return d
