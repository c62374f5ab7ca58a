"""The simulated Asterisk's channels and the call sequences it plays, step by step.

Each step emits the AMI events Asterisk 16-22 emits for it (docs.asterisk.org, "Asterisk 20 AMI
Events": Newchannel, Newstate, DialBegin, DialEnd, BridgeCreate, BridgeEnter, BridgeLeave,
BlindTransfer, QueueCallerJoin, QueueCallerLeave, AgentCalled, AgentConnect, HangupRequest and
Hangup), through the server that owns the channel table (`Pbx`, which `AmiServer` is). It
imports nothing of adapters.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Protocol, Self

_CAUSES = {16: "Normal Clearing", 17: "User busy", 19: "No answer", 26: "Answered elsewhere"}
_STATES = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}

Fields = list[tuple[str, str]]


@dataclass
class SimChannel:
    name: str
    uniqueid: str
    linkedid: str
    number: str
    caller_name: str
    exten: str
    context: str
    state: int = 0
    connected: str = "<unknown>"
    connected_name: str = "<unknown>"
    application: str = ""
    data: str = ""
    bridge: str = ""
    created: float = field(default_factory=time.monotonic)

    def fields(self, prefix: str = "") -> Fields:
        """The standard channel snapshot of AMI events (`Dest` prefix for the callee side)."""
        return [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", str(self.state)),
            (f"{prefix}ChannelStateDesc", _STATES.get(self.state, "Unknown")),
            (f"{prefix}CallerIDNum", self.number),
            (f"{prefix}CallerIDName", self.caller_name),
            (f"{prefix}ConnectedLineNum", self.connected),
            (f"{prefix}ConnectedLineName", self.connected_name),
            (f"{prefix}Language", "en"),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", "1"),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]


class Pbx(Protocol):
    """What a call needs of the simulated Asterisk: its channel table and its event stream."""

    channels: dict[str, SimChannel]

    def next_number(self) -> int: ...

    def new_channel(
        self, name: str, number: str, caller_name: str, exten: str, context: str
    ) -> SimChannel: ...

    async def emit(self, event: str, fields: Fields) -> None: ...


class SimCall:
    """One inbound call on the simulated Asterisk, driven step by step."""

    def __init__(self, ami: Pbx, caller: str, caller_name: str, did: str) -> None:
        self.ami = ami
        self.caller = ami.new_channel(
            f"PJSIP/trunk-{ami.next_number():08x}", caller, caller_name, did, "from-trunk"
        )
        self.caller.state = 4
        self.linkedid = self.caller.linkedid
        self.desk: SimChannel | None = None
        self.bridge = ""

    async def arrive(self) -> Self:
        await self.ami.emit("Newchannel", self.caller.fields())
        await self.ami.emit("Newexten", [*self.caller.fields(), ("Application", "Answer"), ("AppData", "")])
        return self

    async def ring(self, desk: str, *, name: str = "") -> Self:
        """Dial(PJSIP/<desk>): a new leg, DialBegin, Ringing."""
        c = self.caller
        self.desk = self.ami.new_channel(
            f"PJSIP/{desk}-{self.ami.next_number():08x}", desk, name or f"Desk {desk}", "s", "from-internal"
        )
        d, d.linkedid = self.desk, self.linkedid
        d.connected, d.connected_name = c.number, c.caller_name
        c.application, c.data = "Dial", f"PJSIP/{desk},30"
        await self.ami.emit("Newchannel", d.fields())
        await self.ami.emit("DialBegin", [*c.fields(), *d.fields("Dest"), ("DialString", desk)])
        d.state = 5
        await self.ami.emit("Newstate", d.fields())
        return self

    async def answer(self) -> Self:
        """The desk picks up: Up, DialEnd ANSWER, both legs enter one bridge."""
        c, d = self.caller, self._desk()
        d.state = 6
        await self.ami.emit("Newstate", d.fields())
        c.state = 6
        c.connected, c.connected_name = d.number, d.caller_name
        await self.ami.emit("Newstate", c.fields())
        await self.ami.emit("DialEnd", [*c.fields(), *d.fields("Dest"), ("DialStatus", "ANSWER")])
        await self._bridge(c, d)
        return self

    async def _bridge(self, *legs: SimChannel) -> None:
        if not self.bridge:
            self.bridge = f"{random.getrandbits(64):016x}-bridge"
            await self.ami.emit("BridgeCreate", [("BridgeUniqueid", self.bridge), ("BridgeType", "basic")])
        for leg in legs:
            leg.bridge = self.bridge
            count = sum(1 for ch in self.ami.channels.values() if ch.bridge == self.bridge)
            await self.ami.emit(
                "BridgeEnter",
                [
                    ("BridgeUniqueid", self.bridge),
                    ("BridgeType", "basic"),
                    ("BridgeNumChannels", str(count)),
                    *leg.fields(),
                ],
            )

    async def queue(self, queue: str = "dispatch") -> Self:
        c = self.caller
        c.application, c.data = "Queue", queue
        await self.ami.emit(
            "QueueCallerJoin", [*c.fields(), ("Queue", queue), ("Position", "1"), ("Count", "1")]
        )
        self._queue = queue
        return self

    async def agent_connect(self, member: str, *, dial_events: bool = False) -> Self:
        """A queue member picks up: AgentCalled, (DialBegin/End,) AgentConnect, bridge."""
        c = self.caller
        queue = getattr(self, "_queue", "dispatch")
        d = self.desk = self.ami.new_channel(
            f"PJSIP/{member}-{self.ami.next_number():08x}", member, f"Agent {member}", "s", "from-queue"
        )
        d.linkedid = self.linkedid
        member_fields = [
            ("Queue", queue),
            ("MemberName", f"Agent {member}"),
            ("Interface", f"PJSIP/{member}"),
        ]
        await self.ami.emit("Newchannel", d.fields())
        await self.ami.emit("AgentCalled", [*c.fields(), *d.fields("Dest"), *member_fields])
        d.state = 6
        if dial_events:
            await self.ami.emit("DialBegin", [*c.fields(), *d.fields("Dest"), ("DialString", member)])
            await self.ami.emit("DialEnd", [*c.fields(), *d.fields("Dest"), ("DialStatus", "ANSWER")])
        c.state = 6
        await self.ami.emit(
            "AgentConnect",
            [*c.fields(), *d.fields("Dest"), *member_fields, ("RingTime", "2"), ("HoldTime", "5")],
        )
        await self.ami.emit("QueueCallerLeave", [*c.fields(), ("Queue", queue), ("Count", "0")])
        await self._bridge(c, d)
        return self

    async def blind_transfer(self, to_desk: str) -> Self:
        """The desk sends the caller on to another desk, which answers."""
        c, d = self.caller, self._desk()
        await self.ami.emit(
            "BlindTransfer",
            [
                ("Result", "Success"),
                *d.fields("Transferer"),
                *c.fields("Transferee"),
                ("IsExternal", "No"),
                ("Context", "from-internal"),
                ("Extension", to_desk),
            ],
        )
        await self._hangup(d, 16)
        self.bridge = ""
        c.bridge = ""
        await self.ring(to_desk)
        await self.answer()
        return self

    async def hangup_caller(self, cause: int = 16) -> Self:
        """The caller hangs up: answered or not (then the ringing desk gets DialEnd CANCEL)."""
        c = self.caller
        await self.ami.emit("HangupRequest", [*c.fields(), ("Cause", str(cause))])
        d = self.desk
        if d is not None and d.uniqueid in self.ami.channels:
            if d.state != 6:
                await self.ami.emit("DialEnd", [*c.fields(), *d.fields("Dest"), ("DialStatus", "CANCEL")])
            await self._hangup(d, 16 if d.state == 6 else 26)
        await self._hangup(c, cause)
        return self

    async def hangup_desk(self) -> Self:
        """The desk hangs up first; Asterisk then clears the caller too."""
        await self._hangup(self._desk(), 16)
        await self._hangup(self.caller, 16)
        return self

    async def _hangup(self, ch: SimChannel, cause: int) -> None:
        if ch.bridge:
            await self.ami.emit("BridgeLeave", [("BridgeUniqueid", ch.bridge), *ch.fields()])
        self.ami.channels.pop(ch.uniqueid, None)
        await self.ami.emit(
            "Hangup", [*ch.fields(), ("Cause", str(cause)), ("Cause-txt", _CAUSES.get(cause, ""))]
        )

    def _desk(self) -> SimChannel:
        if self.desk is None:
            raise RuntimeError("no desk leg: ring() first")
        return self.desk
