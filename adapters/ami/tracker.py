"""AMI events to call events: pure state, no I/O, time from an injected clock.

One call is every channel that shares a `Linkedid` ("Uniqueid of the oldest channel associated
with this channel", Asterisk 12+ AMI v2); the channel whose Uniqueid is the Linkedid is the
caller's leg. (docs/protocols/asterisk-ami.md, "From events to calls".)

- Offered: the first `DialBegin` to a desk, or `QueueCallerJoin` (the caller waits for one).
- Answered: `DialEnd` with `DialStatus: ANSWER`, or `AgentConnect` (a queue member picked up).
  Once per call: a transfer's second answer is not a new pickup.
- Ended: `Hangup` of the caller's leg, or of the last channel of the call. Answered or not.
- After a reconnect, `resync()` takes the `CoreShowChannel` list: calls that vanished during the
  gap end, calls whose legs share a bridge were answered, calls we never saw are adopted. Events
  learned this way carry `evidence["resync"] = True`; nothing is emitted twice.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from adapters.ami.codec import Message
from adapters.cti import CallAnswered, CallEnded, CallOffered, CtiEvent

_UNKNOWN = {"", "<unknown>", "unknown", "anonymous", "<anonymous>"}
_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]+(;\d+)?$")  # PJSIP/7007-00000012 -> PJSIP/7007


def _value(msg: Message, key: str) -> str | None:
    v = msg.get(key)
    return None if v is None or v.strip().lower() in _UNKNOWN else v.strip()


def channel_desk(channel: str | None) -> str | None:
    """`PJSIP/7007-00000012` -> `PJSIP/7007` (the device, without the per-call suffix)."""
    if not channel:
        return None
    return _CHANNEL_SUFFIX.sub("", channel)


@dataclass
class _Call:
    linkedid: str
    caller: str | None = None
    caller_name: str | None = None
    called: str | None = None
    desk: str | None = None
    channels: set[str] = field(default_factory=set)
    offered: bool = False
    answered: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)


class CallTracker:
    def __init__(self, *, source: str, clock: Callable[[], float], memory: int = 1024) -> None:
        self.source = source
        self._clock = clock
        self._calls: dict[str, _Call] = {}
        self._linked: dict[str, str] = {}  # Uniqueid -> Linkedid
        self._ended: deque[str] = deque(maxlen=memory)  # so late events never revive a call
        self._ended_set: set[str] = set()

    @property
    def active(self) -> list[str]:
        return list(self._calls)

    # ---- live events ---------------------------------------------------------------------------

    def feed(self, msg: Message) -> list[CtiEvent]:
        if msg.kind != "event":
            return []
        handler = _HANDLERS.get(msg.name.lower())
        return handler(self, msg) if handler else []

    def _at(self, msg: Message) -> float:
        stamp = msg.get("Timestamp")  # manager.conf timestampevents=yes
        if stamp:
            try:
                return float(stamp)
            except ValueError:
                pass
        return self._clock()

    def _linkedid(self, msg: Message, prefix: str = "") -> str | None:
        linked = msg.get(f"{prefix}Linkedid")
        unique = msg.get(f"{prefix}Uniqueid")
        if linked:
            return linked
        return self._linked.get(unique, unique) if unique else None

    def _call(self, msg: Message, *, create: bool) -> _Call | None:
        linkedid = self._linkedid(msg)
        if linkedid is None or linkedid in self._ended_set:
            return None
        call = self._calls.get(linkedid)
        if call is None and create:
            call = self._calls[linkedid] = _Call(linkedid)
        if call is None:
            return None
        unique = msg.get("Uniqueid")
        if unique:
            call.channels.add(unique)
            self._linked[unique] = linkedid
        if unique == linkedid or call.caller is None:
            # The caller's leg (or the best we have) names the caller and what was dialled.
            call.caller = call.caller or _value(msg, "CallerIDNum")
            call.caller_name = call.caller_name or _value(msg, "CallerIDName")
            if unique == linkedid:
                call.called = call.called or _value(msg, "Exten")
        return call

    def _event(
        self, kind: type[CallOffered] | type[CallAnswered], call: _Call, at: float, **ev: Any
    ) -> CtiEvent:
        return kind(
            call_id=call.linkedid,
            at=at,
            caller=call.caller,
            caller_name=call.caller_name,
            called=call.called,
            desk=call.desk,
            source=self.source,
            evidence=call.evidence | ev,
        )

    def _on_newchannel(self, msg: Message) -> list[CtiEvent]:
        self._call(msg, create=True)
        return []

    def _on_dial_begin(self, msg: Message) -> list[CtiEvent]:
        call = self._call(msg, create=True)
        if call is None:
            return []
        dest = msg.get("DestUniqueid")
        if dest:
            call.channels.add(dest)
            self._linked[dest] = call.linkedid
        if call.offered or call.answered:
            return []
        call.offered = True
        call.desk = _value(msg, "DestCallerIDNum") or channel_desk(msg.get("DestChannel"))
        call.called = call.called or _value(msg, "DialString")
        return [self._event(CallOffered, call, self._at(msg), ami_event="DialBegin")]

    def _on_queue_join(self, msg: Message) -> list[CtiEvent]:
        call = self._call(msg, create=True)
        if call is None or call.offered or call.answered:
            return []
        call.offered = True
        queue = msg.get("Queue")
        if queue:
            call.evidence["queue"] = queue
        return [self._event(CallOffered, call, self._at(msg), ami_event="QueueCallerJoin")]

    def _answered(self, call: _Call, msg: Message, desk: str | None) -> list[CtiEvent]:
        if call.answered:
            if desk and desk != call.desk:
                call.evidence["transferred_to"] = (*call.evidence.get("transferred_to", ()), desk)
            return []
        call.answered = True
        call.desk = desk or call.desk
        out: list[CtiEvent] = []
        at = self._at(msg)
        if not call.offered:
            call.offered = True
            out.append(self._event(CallOffered, call, at, ami_event=msg.name))
        out.append(self._event(CallAnswered, call, at, ami_event=msg.name))
        return out

    def _on_dial_end(self, msg: Message) -> list[CtiEvent]:
        if (msg.get("DialStatus") or "").upper() != "ANSWER":
            return []
        call = self._call(msg, create=True)
        if call is None:
            return []
        desk = _value(msg, "DestCallerIDNum") or channel_desk(msg.get("DestChannel"))
        return self._answered(call, msg, desk)

    def _on_agent_connect(self, msg: Message) -> list[CtiEvent]:
        call = self._call(msg, create=True)
        if call is None:
            return []
        desk = _value(msg, "MemberName") or _value(msg, "Interface") or _value(msg, "DestCallerIDNum")
        return self._answered(call, msg, desk)

    def _on_transfer(self, msg: Message) -> list[CtiEvent]:
        # Transfer events describe several channels, each with a prefix (AMI BlindTransfer,
        # AttendedTransfer): the transferee is the caller being moved.
        call = None
        for prefix in ("Transferee", "Transferer", "OrigTransferer", "SecondTransferer", ""):
            linkedid = self._linkedid(msg, prefix)
            if linkedid is not None and linkedid in self._calls:
                call = self._calls[linkedid]
                break
        if call is not None:
            target = (
                msg.get("Extension") or msg.get("TransfereeChannel") or msg.get("SecondTransfererChannel")
            )
            call.evidence["transfer"] = msg.name + (f" to {target}" if target else "")
        return []

    def _on_hangup(self, msg: Message) -> list[CtiEvent]:
        unique = msg.get("Uniqueid")
        linkedid = self._linkedid(msg)
        if linkedid is None:
            return []
        if unique:
            self._linked.pop(unique, None)
        call = self._calls.get(linkedid)
        if call is None:
            if unique == linkedid:  # a call we never tracked is over: a resync must not adopt it
                self._remember_ended(linkedid)
            return []
        call.channels.discard(unique or "")
        if unique != linkedid and call.channels:
            return []
        return self._end(
            call,
            self._at(msg),
            hung_up_by="caller" if unique == linkedid else "desk",
            cause=msg.get("Cause"),
            cause_txt=msg.get("Cause-txt"),
        )

    def _end(self, call: _Call, at: float, **ev: Any) -> list[CtiEvent]:
        self._calls.pop(call.linkedid, None)
        self._remember_ended(call.linkedid)
        for unique in call.channels:
            self._linked.pop(unique, None)
        if not call.offered and not call.answered:
            return []  # never reached a desk (an IVR, a wrong number): not a CTI call
        evidence = call.evidence | {k: v for k, v in ev.items() if v is not None}
        return [
            CallEnded(
                call_id=call.linkedid,
                at=at,
                caller=call.caller,
                caller_name=call.caller_name,
                called=call.called,
                desk=call.desk,
                source=self.source,
                evidence=evidence,
                answered=call.answered,
                reason="hangup" if call.answered else "abandoned",
            )
        ]

    def _remember_ended(self, linkedid: str) -> None:
        if linkedid in self._ended_set:
            return
        if len(self._ended) == self._ended.maxlen:
            self._ended_set.discard(self._ended[0])
        self._ended.append(linkedid)
        self._ended_set.add(linkedid)

    # ---- resync after a reconnect --------------------------------------------------------------

    def resync(self, channels: Sequence[Message]) -> list[CtiEvent]:
        """Reconcile with a `CoreShowChannel` list taken after a reconnect (§3.1)."""
        now = self._clock()
        groups: dict[str, list[Message]] = {}
        for ch in channels:
            linkedid = ch.get("Linkedid") or ch.get("Uniqueid")
            if linkedid:
                groups.setdefault(linkedid, []).append(ch)
        out: list[CtiEvent] = []
        for linkedid in list(self._calls):
            if linkedid not in groups:
                call = self._calls[linkedid]
                out += self._end(call, now, resync=True, note="ended while disconnected")
        for linkedid, legs in groups.items():
            if linkedid in self._ended_set:
                continue
            out += self._resync_call(linkedid, legs, now)
        return out

    def _resync_call(self, linkedid: str, legs: list[Message], now: float) -> list[CtiEvent]:
        caller_leg = next((leg for leg in legs if leg.get("Uniqueid") == linkedid), legs[0])
        call = self._calls.get(linkedid)
        out: list[CtiEvent] = []
        if call is None:
            call = self._calls[linkedid] = _Call(linkedid)
            call.caller = _value(caller_leg, "CallerIDNum")
            call.caller_name = _value(caller_leg, "CallerIDName")
            call.called = _value(caller_leg, "Exten")
        call.channels = {u for leg in legs if (u := leg.get("Uniqueid"))}
        for unique in call.channels:
            self._linked[unique] = linkedid
        others = [leg for leg in legs if leg is not caller_leg]
        bridge = caller_leg.get("BridgeId") or ""
        bridged = [leg for leg in others if bridge and leg.get("BridgeId") == bridge]
        desk_leg = bridged[0] if bridged else (others[0] if others else None)
        if desk_leg is not None and not call.answered:
            call.desk = _value(desk_leg, "CallerIDNum") or channel_desk(desk_leg.get("Channel"))
        ringing = bool(others) or (caller_leg.get("Application") or "").lower() == "queue"
        if not call.offered and (ringing or bridged):
            call.offered = True
            out.append(self._event(CallOffered, call, now, resync=True))
        if bridged and not call.answered:
            call.answered = True
            out.append(self._event(CallAnswered, call, now, resync=True))
        return out


_HANDLERS: dict[str, Callable[[CallTracker, Message], list[CtiEvent]]] = {
    "newchannel": CallTracker._on_newchannel,
    "dialbegin": CallTracker._on_dial_begin,
    "queuecallerjoin": CallTracker._on_queue_join,
    "dialend": CallTracker._on_dial_end,
    "agentconnect": CallTracker._on_agent_connect,
    "blindtransfer": CallTracker._on_transfer,
    "attendedtransfer": CallTracker._on_transfer,
    "hangup": CallTracker._on_hangup,
}
# What the client asks Asterisk for (the `Filter` action) and keeps (a client-side filter).
EVENTS = (
    "Newchannel",
    "DialBegin",
    "DialEnd",
    "QueueCallerJoin",
    "AgentConnect",
    "BlindTransfer",
    "AttendedTransfer",
    "Hangup",
)
