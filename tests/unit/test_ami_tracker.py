"""The AMI call tracker (pure): event sequences in, call events out, resync after a gap."""

from __future__ import annotations

from adapters.ami.codec import Message
from adapters.ami.tracker import CallTracker, channel_desk
from adapters.cti import CallAnswered, CallEnded, CallOffered, CtiEvent

L1, L2 = "1700000000.1", "1700000000.2"  # caller leg (= Linkedid), desk leg


def ev(name: str, **fields: str) -> Message:
    return Message((("Event", name), *((k.replace("_", "-"), v) for k, v in fields.items())))


def leg(unique: str, number: str, *, linked: str = L1, prefix: str = "", **extra: str) -> dict[str, str]:
    out = {
        f"{prefix}Channel": f"PJSIP/{number}-0000000{unique[-1]}",
        f"{prefix}CallerIDNum": number,
        f"{prefix}CallerIDName": f"Name {number}",
        f"{prefix}Uniqueid": unique,
        f"{prefix}Linkedid": linked,
        f"{prefix}Exten": "000",
    }
    return out | extra


CALLER = leg(L1, "0412345678")
DESK = leg(L2, "7007", prefix="Dest")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def tracker() -> CallTracker:
    return CallTracker(source="pbx", clock=Clock())


def run(t: CallTracker, *messages: Message) -> list[CtiEvent]:
    return [e for m in messages for e in t.feed(m)]


def kinds(events: list[CtiEvent]) -> list[type]:
    return [type(e) for e in events]


ARRIVE = ev("Newchannel", **CALLER)
DESK_LEG = ev("Newchannel", **leg(L2, "7007"))
RING = ev("DialBegin", **CALLER, **DESK, DialString="7007")
ANSWER = ev("DialEnd", **CALLER, **DESK, DialStatus="ANSWER")
HANG_CALLER = ev("Hangup", **CALLER, Cause="16", Cause_txt="Normal Clearing")
HANG_DESK = ev("Hangup", **leg(L2, "7007"), Cause="16", Cause_txt="Normal Clearing")


def test_a_direct_call_offered_answered_ended() -> None:
    events = run(tracker(), ARRIVE, DESK_LEG, RING, ANSWER, HANG_DESK, HANG_CALLER)
    assert kinds(events) == [CallOffered, CallAnswered, CallEnded]
    offered, answered, ended = events
    assert isinstance(ended, CallEnded)
    for e in events:
        assert (e.call_id, e.caller, e.caller_name, e.called, e.desk, e.source) == (
            L1,
            "0412345678",
            "Name 0412345678",
            "000",
            "7007",
            "pbx",
        )
    assert offered.at < answered.at < ended.at
    assert ended.answered and ended.reason == "hangup" and ended.evidence["hung_up_by"] == "caller"


def test_the_desk_leg_hanging_up_first_does_not_end_the_call_until_the_caller_goes() -> None:
    t = tracker()
    run(t, ARRIVE, DESK_LEG, RING, ANSWER)
    assert run(t, HANG_DESK) == []
    assert kinds(run(t, HANG_CALLER)) == [CallEnded]


def test_abandoned_while_ringing() -> None:
    events = run(
        tracker(),
        ARRIVE,
        DESK_LEG,
        RING,
        ev("DialEnd", **CALLER, **DESK, DialStatus="CANCEL"),
        HANG_DESK,
        HANG_CALLER,
    )
    assert kinds(events) == [CallOffered, CallEnded]
    assert (
        isinstance(events[1], CallEnded) and events[1].answered is False and events[1].reason == "abandoned"
    )


def test_unanswered_dial_statuses_are_not_pickups() -> None:
    for status in ("BUSY", "NOANSWER", "CONGESTION", "CHANUNAVAIL", "CANCEL"):
        events = run(tracker(), ARRIVE, RING, ev("DialEnd", **CALLER, **DESK, DialStatus=status))
        assert kinds(events) == [CallOffered], status


def test_a_call_that_never_reached_a_desk_leaves_no_trace() -> None:
    assert run(tracker(), ARRIVE, ev("Newexten", **CALLER), HANG_CALLER) == []


def test_an_answer_without_a_dial_begin_is_offered_then_answered() -> None:
    assert kinds(run(tracker(), ANSWER)) == [CallOffered, CallAnswered]


def test_a_transfer_answers_once_and_records_where_it_went() -> None:
    t = tracker()
    second = leg("1700000000.3", "7008", prefix="Dest")
    events = run(
        t,
        ARRIVE,
        DESK_LEG,
        RING,
        ANSWER,
        ev("BlindTransfer", Result="Success", Extension="7008", TransfereeLinkedid=L1),
        HANG_DESK,
        ev("DialBegin", **CALLER, **second),
        ev("DialEnd", **CALLER, **second, DialStatus="ANSWER"),
        ev("Hangup", **leg("1700000000.3", "7008")),
        HANG_CALLER,
    )
    assert kinds(events) == [CallOffered, CallAnswered, CallEnded]
    assert events[1].desk == "7007"
    assert events[2].evidence["transferred_to"] == ("7008",)
    assert events[2].evidence["transfer"] == "BlindTransfer to 7008"


def test_a_queue_call_is_offered_on_join_and_answered_on_agent_connect_once() -> None:
    member = leg(L2, "7010", prefix="Dest")
    events = run(
        tracker(),
        ARRIVE,
        ev("QueueCallerJoin", **CALLER, Queue="dispatch", Position="1"),
        ev("DialEnd", **CALLER, **member, DialStatus="ANSWER"),
        ev("AgentConnect", **CALLER, **member, Queue="dispatch", MemberName="Agent 7010"),
        HANG_CALLER,
    )
    assert kinds(events) == [CallOffered, CallAnswered, CallEnded]
    assert events[0].desk is None and events[0].evidence["queue"] == "dispatch"
    assert events[1].desk == "7010" and events[1].evidence["ami_event"] == "DialEnd"
    only_agent = run(tracker(), ARRIVE, ev("AgentConnect", **CALLER, **member, MemberName="Agent 7010"))
    assert kinds(only_agent) == [CallOffered, CallAnswered] and only_agent[1].desk == "Agent 7010"


def test_the_event_timestamp_is_used_when_asterisk_sends_one() -> None:
    events = run(tracker(), ev("DialBegin", **CALLER, **DESK, Timestamp="1699999999.250000"))
    assert events[0].at == 1699999999.25


def test_unknown_callerid_is_none_and_events_without_ids_are_ignored() -> None:
    anon = leg(L1, "<unknown>")
    events = run(tracker(), ev("DialBegin", **anon, **DESK))
    assert events[0].caller is None and events[0].caller_name == "Name <unknown>"
    assert run(tracker(), ev("Hangup", Channel="x"), Message((("Response", "Success"),))) == []


def test_late_events_never_revive_an_ended_call() -> None:
    t = tracker()
    run(t, ARRIVE, RING, ANSWER, HANG_CALLER)
    assert run(t, ANSWER, RING, HANG_DESK) == []


def test_channel_desk_strips_the_per_call_suffix() -> None:
    assert channel_desk("PJSIP/7007-00000012") == "PJSIP/7007"
    assert channel_desk("Local/7007@from-internal-0000001a;1") == "Local/7007@from-internal"
    assert channel_desk(None) is None


# ---- resync ------------------------------------------------------------------------------------


def listed(unique: str, number: str, *, linked: str = L1, bridge: str = "", app: str = "Dial") -> Message:
    return ev("CoreShowChannel", **leg(unique, number, linked=linked), BridgeId=bridge, Application=app)


def test_resync_answers_a_ringing_call_that_was_picked_up_during_the_gap_once() -> None:
    t = tracker()
    run(t, ARRIVE, DESK_LEG, RING)
    snapshot = [listed(L1, "0412345678", bridge="b1"), listed(L2, "7007", bridge="b1")]
    events = t.resync(snapshot)
    assert kinds(events) == [CallAnswered]
    assert events[0].evidence["resync"] is True and events[0].desk == "7007"
    assert t.resync(snapshot) == []  # a second reconnect changes nothing
    assert run(t, ANSWER) == []  # nor does a late DialEnd


def test_resync_ends_calls_that_vanished_and_keeps_the_answered_flag() -> None:
    t = tracker()
    run(t, ARRIVE, RING, ANSWER)
    events = t.resync([])
    assert kinds(events) == [CallEnded]
    assert events[0].answered is True and events[0].evidence["resync"] is True
    assert run(t, HANG_CALLER) == []


def test_resync_adopts_calls_it_never_saw() -> None:
    t = tracker()
    other = "1700000000.7"
    snapshot = [
        listed(L1, "0412345678", bridge="b1"),
        listed(L2, "7007", bridge="b1"),  # talking
        listed(other, "0499", linked=other, app="Queue"),  # waiting in a queue
        listed("1700000000.9", "0455", linked="1700000000.9", app="Playback"),  # in an IVR
    ]
    events = t.resync(snapshot)
    assert [(type(e), e.call_id) for e in events] == [
        (CallOffered, L1),
        (CallAnswered, L1),
        (CallOffered, other),
    ]
    assert events[1].caller == "0412345678" and events[1].desk == "7007"
    later = run(t, ev("DialBegin", **leg("1700000000.9", "0455", linked="1700000000.9"), **DESK))
    assert kinds(later) == [CallOffered]  # the IVR caller reached a desk after all


def test_a_call_that_hung_up_while_the_list_was_read_is_not_adopted() -> None:
    t = tracker()
    run(t, HANG_CALLER)  # live event for a call we never tracked
    assert t.resync([listed(L1, "0412345678", bridge="b1"), listed(L2, "7007", bridge="b1")]) == []
