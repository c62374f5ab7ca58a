"""The SMPP 3.4 session state machine, without sockets or clocks: bind, the window, enquire_link,
throttling, rebind, receipts, and truncated or garbage input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.errors import CalloutError, ProtocolError
from adapters.smpp import codec
from adapters.smpp.codec import (
    Bind,
    BindMode,
    BindResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    FramingError,
    GenericNack,
    Status,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Tlv,
    Unbind,
    UnbindResp,
)
from adapters.smpp.receipts import Report, Track
from adapters.smpp.session import (
    Bound,
    Closed,
    Problem,
    SessionError,
    SmppSession,
    State,
    SubmitAccepted,
    SubmitRefused,
    SubmitThrottled,
    TextReceived,
    WindowFull,
)

SUBMIT = SubmitSm(
    sequence=0, dest_addr_ton=1, dest_addr_npi=1, destination_addr="447700900001", short_message=b"hi"
)


def sent(s: SmppSession) -> list[codec.Pdu]:
    """The PDUs the session wants written, decoded."""
    return [codec.decode(f) for f in codec.PduSplitter().feed(s.data_to_send())]


def feed(s: SmppSession, *pdus: codec.Pdu, now: float = 0.0) -> None:
    s.receive_data(b"".join(codec.encode(p) for p in pdus), now)


def bound(mode: BindMode = BindMode.TRANSCEIVER, **options: Any) -> SmppSession:
    s = SmppSession(**options)
    s.connected(0.0)
    seq = s.bind(0.0, system_id="callout", password="secret", mode=mode)
    (bind,) = sent(s)
    assert isinstance(bind, Bind) and (bind.sequence, bind.mode, bind.system_id) == (seq, mode, "callout")
    feed(s, BindResp(sequence=seq, mode=mode, system_id="smsc"))
    assert s.events_received() == [Bound(mode, "smsc")]
    assert s.state is State.BOUND
    return s


def receipt(seq: int, message_id: str, stat: str = "DELIVRD") -> DeliverSm:
    text = (
        f"id:{message_id} sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 stat:{stat} err:000"
    )
    return DeliverSm(sequence=seq, esm_class=codec.ESM_SMSC_RECEIPT, short_message=text.encode())


# ---- bind (§4.1) ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", list(BindMode))
def test_bind_in_each_mode(mode: BindMode) -> None:
    s = bound(mode)
    assert s.can_submit(0.0) is (mode is not BindMode.RECEIVER)  # §4.1.3: a receiver cannot submit
    if mode is BindMode.RECEIVER:
        with pytest.raises(SessionError):
            s.submit(SUBMIT, 0.0)


def test_refused_bind_closes_with_the_status() -> None:
    s = SmppSession()
    s.connected(0.0)
    seq = s.bind(0.0, system_id="callout", password="wrong")
    s.data_to_send()
    feed(s, EnquireLink(sequence=99))  # §2.2: nothing but the bind response counts while binding
    assert s.events_received() == [] and s.data_to_send() == b""
    feed(s, BindResp(sequence=seq, status=Status.ESME_RINVPASWD))
    (closed,) = s.events_received()
    assert closed == Closed("bind refused: ESME_RINVPASWD (0x0E)", status=Status.ESME_RINVPASWD)
    assert s.state is State.CLOSED and s.deadline() is None


def test_bind_timeout_by_deadline() -> None:
    s = SmppSession(bind_timeout=5)
    s.connected(10.0)
    s.bind(10.0, system_id="callout", mode=BindMode.TRANSMITTER)
    assert s.deadline() == 15.0
    s.tick(14.9)
    assert s.events_received() == []
    s.tick(15.0)
    assert s.events_received() == [Closed("no bind_transmitter_resp within 5s")]


def test_calls_out_of_state_are_session_errors_not_protocol_errors() -> None:
    s = SmppSession()
    for call in (lambda: s.submit(SUBMIT, 0.0), s.unbind, lambda: s.bind(0.0, system_id="x")):
        with pytest.raises(SessionError) as err:
            call()
        assert isinstance(err.value, CalloutError) and not isinstance(err.value, ProtocolError)
    s.connected(0.0)
    with pytest.raises(SessionError):
        s.connected(0.0)


# ---- the window and submit_sm (§4.4) ------------------------------------------------------------
def test_window_full_then_drained() -> None:
    s = bound(window=2)
    a, b = s.submit(SUBMIT, 1.0), s.submit(codec.encode(SUBMIT), 1.0)
    submits = sent(s)
    assert [p.sequence for p in submits] == [a, b] and all(isinstance(p, SubmitSm) for p in submits)
    assert s.outstanding == 2 and not s.can_submit(1.0)
    with pytest.raises(WindowFull):
        s.submit(SUBMIT, 1.0)
    feed(
        s, SubmitSmResp(sequence=b, message_id="m2"), SubmitSmResp(sequence=a, status=Status.ESME_RINVDSTADR)
    )
    assert s.events_received() == [SubmitAccepted(b, "m2"), SubmitRefused(a, Status.ESME_RINVDSTADR)]
    assert s.outstanding == 0 and s.can_submit(1.0)


def test_generic_nack_and_a_bad_submit_sm_resp_refuse_the_submit() -> None:
    s = bound()
    a, b = s.submit(SUBMIT, 0.0), s.submit(SUBMIT, 0.0)
    s.data_to_send()
    feed(s, GenericNack(sequence=a, status=Status.ESME_RINVCMDLEN))
    bad = codec.HEADER.pack(17, codec.CommandId.SUBMIT_SM_RESP, 0, b) + b"x"  # message_id without NUL
    s.receive_data(bad, 0.0)
    events = s.events_received()
    assert events[0] == SubmitRefused(a, Status.ESME_RINVCMDLEN)
    assert isinstance(events[1], Problem) and isinstance(events[1].error, ProtocolError)
    assert events[2] == SubmitRefused(b, Status.ESME_RSYSERR)


def test_a_forgotten_submit_only_frees_the_window() -> None:
    s = bound(window=1)
    seq = s.submit(SUBMIT, 0.0)
    s.forget(seq)
    feed(s, SubmitSmResp(sequence=seq, message_id="m1"))
    assert s.events_received() == [] and s.can_submit(0.0)


# ---- enquire_link (§4.11) -------------------------------------------------------------------------
def test_enquire_link_when_idle_and_a_hung_peer_found_by_deadline() -> None:
    s = bound(enquire_link_interval=30, enquire_link_timeout=10)
    assert s.deadline() == 30.0
    s.tick(29.0)
    assert s.data_to_send() == b""
    s.tick(30.0)
    (link,) = sent(s)
    assert isinstance(link, EnquireLink) and s.deadline() == 40.0
    feed(s, EnquireLinkResp(sequence=link.sequence), now=31.0)
    assert s.deadline() == 61.0  # idle again from the last byte received
    s.tick(61.0)
    assert isinstance(sent(s)[0], EnquireLink)
    s.tick(70.9)
    assert s.events_received() == []
    s.tick(71.0)
    assert s.events_received() == [Closed("no enquire_link_resp within 10s")]


def test_the_smsc_enquire_link_is_answered_and_unknown_requests_nacked() -> None:
    s = bound()
    feed(s, EnquireLink(sequence=7))
    assert sent(s) == [EnquireLinkResp(sequence=7)]
    s.receive_data(codec.HEADER.pack(16, 0x00000103, 0, 8), 0.0)  # data_sm: not implemented here
    assert sent(s) == [GenericNack(sequence=8, status=Status.ESME_RINVCMDID)]
    feed(s, Bind(sequence=9, system_id="x"))  # a request an ESME never takes
    assert sent(s) == [GenericNack(sequence=9, status=Status.ESME_RINVBNDSTS)]


# ---- throttling (§5.1.3: ESME_RTHROTTLED, ESME_RMSGQFUL) ----------------------------------------
def test_throttling_backs_off_and_doubles() -> None:
    s = bound(throttle_backoff=1, throttle_backoff_max=3, enquire_link_interval=100)
    a, b = s.submit(SUBMIT, 5.0), s.submit(SUBMIT, 5.0)
    feed(s, SubmitSmResp(sequence=a, status=Status.ESME_RTHROTTLED), now=5.0)
    feed(s, SubmitSmResp(sequence=b, status=Status.ESME_RMSGQFUL), now=5.1)
    assert s.events_received() == [
        SubmitThrottled(a, Status.ESME_RTHROTTLED, 1.0),
        SubmitThrottled(b, Status.ESME_RMSGQFUL, 0.0),  # the same pause
    ]
    assert not s.can_submit(5.5) and s.deadline() == 6.0
    s.tick(6.0)
    assert s.can_submit(6.0) and s.deadline() == 105.1
    c = s.submit(SUBMIT, 6.0)
    feed(s, SubmitSmResp(sequence=c, status=Status.ESME_RTHROTTLED), now=6.0)
    d = s.submit(SUBMIT, 8.0)
    feed(s, SubmitSmResp(sequence=d, status=Status.ESME_RTHROTTLED), now=8.0)
    assert [e.pause for e in s.events_received() if isinstance(e, SubmitThrottled)] == [2.0, 3.0]
    e = s.submit(SUBMIT, 11.0)
    feed(s, SubmitSmResp(sequence=e, message_id="ok"), now=11.0)
    f = s.submit(SUBMIT, 11.0)
    feed(s, SubmitSmResp(sequence=f, status=Status.ESME_RTHROTTLED), now=11.0)
    assert s.events_received()[-1] == SubmitThrottled(f, Status.ESME_RTHROTTLED, 1.0)  # reset by ROK


# ---- unbind (§4.2), drops and rebind --------------------------------------------------------------
def test_the_smsc_unbinds_then_rebind_with_unanswered_submits_reported_for_retry() -> None:
    s = bound()
    a, b = s.submit(SUBMIT, 0.0), s.submit(SUBMIT, 0.0)
    s.forget(b)
    s.data_to_send()
    feed(s, Unbind(sequence=40))
    assert sent(s) == [UnbindResp(sequence=40)]
    assert s.events_received() == [Closed("the SMSC unbound", retry=(a,))]
    s.connected(1.0)
    seq = s.bind(1.0, system_id="callout")
    assert seq > b  # sequence numbers go on across connections
    feed(s, BindResp(sequence=seq), now=1.0)
    assert s.events_received() == [Bound(BindMode.TRANSCEIVER, "")] and s.outstanding == 0


def test_a_dropped_connection_reports_unanswered_submits() -> None:
    s = bound()
    a = s.submit(SUBMIT, 0.0)
    feed(s, SubmitSmResp(sequence=a, message_id="m1"))
    b, c = s.submit(SUBMIT, 0.0), s.submit(SUBMIT, 0.0)
    s.events_received()
    s.connection_lost("the SMSC closed the connection")
    assert s.events_received() == [Closed("the SMSC closed the connection", retry=(b, c))]
    s.connection_lost("again")  # once closed, nothing more
    assert s.events_received() == []


def test_our_unbind_ends_with_unbind_resp() -> None:
    s = bound()
    seq = s.unbind()
    assert sent(s) == [Unbind(sequence=seq)] and not s.can_submit(0.0)
    feed(s, UnbindResp(sequence=seq))
    assert s.events_received() == [Closed("unbound")]


# ---- deliver_sm (§4.6) and receipts (Appendix B) ---------------------------------------------------
def test_receipts_are_matched_by_message_id() -> None:
    s = bound()
    one, two = Track(total=1), Track(total=2)
    a = s.submit(SUBMIT, 0.0, track=one)
    b, c = s.submit(SUBMIT, 0.0, track=two, part=0), s.submit(SUBMIT, 0.0, track=two, part=1)
    s.data_to_send()
    feed(s, SubmitSmResp(sequence=a, message_id="ABC1"), SubmitSmResp(sequence=b, message_id="p1"))
    feed(s, receipt(1, "abc1"), receipt(2, "p1"))  # ids match whatever their case
    events = s.events_received()
    assert events[:2] == [SubmitAccepted(a, "ABC1"), SubmitAccepted(b, "p1")]
    assert events[2:] == [Report("ABC1", True, evidence={"smpp_message_id": "ABC1", "stat": "DELIVRD"})]
    assert sent(s) == [DeliverSmResp(sequence=1), DeliverSmResp(sequence=2)]  # §4.6.2: always answered
    feed(s, SubmitSmResp(sequence=c, message_id="p2"), receipt(3, "p2"))
    assert s.events_received()[1:] == [
        Report("p1", True, evidence={"smpp_message_id": "p1", "stat": "DELIVRD", "parts": 2})
    ]
    feed(s, receipt(4, "elsewhere", "UNDELIV"), receipt(5, "elsewhere", "UNDELIV"))  # not ours: once
    (unknown,) = s.events_received()
    assert unknown == Report(
        "elsewhere",
        False,
        "UNDELIV err:000",
        {"smpp_message_id": "elsewhere", "stat": "UNDELIV", "err": "000"},
    )


def test_receipt_by_tlv_and_a_mobile_originated_text() -> None:
    s = bound()
    seq = s.submit(SUBMIT, 0.0, track=Track(total=1))
    feed(s, SubmitSmResp(sequence=seq, message_id="0a"))
    tlvs = (Tlv.cstring(Tag.RECEIPTED_MESSAGE_ID, "0a"), Tlv.u8(Tag.MESSAGE_STATE, 5))
    feed(s, DeliverSm(sequence=2, tlvs=tlvs))
    assert s.events_received()[-1] == Report(
        "0a", False, "UNDELIVERABLE err:-", {"smpp_message_id": "0a", "stat": "UNDELIVERABLE", "err": ""}
    )
    feed(
        s,
        DeliverSm(
            sequence=3,
            source_addr_ton=1,
            source_addr="447700900009",
            destination_addr="CALLOUT",
            short_message=b"EN ROUTE",
        ),
    )
    assert s.events_received() == [TextReceived("+447700900009", "EN ROUTE", "CALLOUT")]


def test_an_unusable_deliver_sm_is_refused_permanently() -> None:
    s = bound()
    s.data_to_send()
    feed(s, DeliverSm(sequence=6, esm_class=codec.ESM_SMSC_RECEIPT, short_message=b"no receipt here"))
    (problem,) = s.events_received()
    assert isinstance(problem, Problem) and isinstance(problem.error, ProtocolError)
    assert sent(s) == [DeliverSmResp(sequence=6, status=Status.ESME_RX_P_APPN)]


# ---- truncated and garbage input ----------------------------------------------------------------
def test_a_stream_fed_byte_by_byte_gives_the_same_events() -> None:
    whole, split = bound(), bound()
    for s in (whole, split):
        s.submit(SUBMIT, 0.0, track=Track(total=1))
    stream = b"".join(
        codec.encode(p)
        for p in (SubmitSmResp(sequence=2, message_id="m1"), EnquireLink(sequence=5), receipt(6, "m1"))
    )
    whole.receive_data(stream, 0.0)
    for i in range(len(stream)):
        split.receive_data(stream[i : i + 1], 0.0)
    assert split.events_received() == whole.events_received() != []
    assert split.data_to_send() == whole.data_to_send()


def test_every_truncated_body_fails_cleanly_with_a_protocol_error() -> None:
    frame = codec.encode(DeliverSm(sequence=3, source_addr="447700900009", short_message=b"EN ROUTE"))
    for cut in range(codec.HEADER_LEN, len(frame) - 1):
        s = bound()
        body = frame[codec.HEADER_LEN : cut]
        s.receive_data(
            codec.HEADER.pack(codec.HEADER_LEN + len(body), codec.CommandId.DELIVER_SM, 0, 3) + body, 0.0
        )
        (problem,) = s.events_received()
        assert isinstance(problem, Problem) and isinstance(problem.error, ProtocolError), cut
        (nack,) = sent(s)  # §4.3: the SMSC learns why, and the session goes on
        assert isinstance(nack, GenericNack) and nack.sequence == 3 and nack.status
        assert s.state is State.BOUND


@pytest.mark.parametrize("state", ["binding", "bound"])
def test_an_impossible_command_length_closes_the_session(state: str) -> None:
    s = bound()
    if state == "binding":
        s.connection_lost("x")
        s.connected(0.0)
        s.bind(0.0, system_id="callout")
    a = s.submit(SUBMIT, 0.0) if state == "bound" else None
    s.events_received()
    with pytest.raises(FramingError) as err:
        s.receive_data(b"\x00\x00\x00\x05garbage", 0.0)
    assert isinstance(err.value, ProtocolError) and err.value.codec == "smpp"
    (closed,) = s.events_received()
    assert isinstance(closed, Closed) and closed.error is err.value and s.state is State.CLOSED
    assert closed.reason.startswith("bind failed" if state == "binding" else "connection lost")
    assert closed.retry == (() if a is None else (a,))
    s.receive_data(b"more", 0.0)  # after the end, input is ignored
    assert s.events_received() == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=6), st.booleans())
def test_garbage_never_escapes_as_anything_but_a_protocol_error(chunks: list[bytes], binding: bool) -> None:
    s = SmppSession()
    s.connected(0.0)
    seq = s.bind(0.0, system_id="callout")
    if not binding:
        feed(s, BindResp(sequence=seq))
    for chunk in chunks:
        try:
            s.receive_data(chunk, 1.0)
        except ProtocolError:
            assert s.state is State.CLOSED
            break
    for event in s.events_received():
        if isinstance(event, Problem | Closed) and event.error is not None:
            assert isinstance(event.error, ProtocolError)
    s.data_to_send()
