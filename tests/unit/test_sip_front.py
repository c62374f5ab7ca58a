"""The desk's SIP front (adapters/sip/front.py), sans-I/O: routing by Call-ID to the worker with
the most free lines, Via and Max-Forwards (RFC 3261 §16.6, §16.7), lines freed when a worker
reports the call ended, an INVITE held for a free line when every line is taken, garbage dropped."""

from __future__ import annotations

from adapters.sip.front import HOLD, LINGER, FrontRouter

CALLER = ("127.0.0.1", 40000)
WORKERS = {0: ("127.0.0.1", 6000), 1: ("127.0.0.1", 6001)}


def router(lines: int = 2, workers: dict[int, tuple[str, int]] = WORKERS) -> FrontRouter:
    return FrontRouter(
        host="127.0.0.1",
        port=5060,
        free_lines=lambda: [(i, lines) for i in workers],
        workers=workers.get,
    )


def request(method: str, call_id: str, *, branch: str = "z9hG4bKc1", maxf: int | None = 70) -> bytes:
    head = [
        f"{method} sip:desk@127.0.0.1:5060 SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:40000;branch={branch}",
        "From: <sip:07700900001@127.0.0.1>;tag=a",
        "To: <sip:desk@127.0.0.1>",
        f"Call-ID: {call_id}",
        f"CSeq: 1 {method}",
    ]
    if maxf is not None:
        head.append(f"Max-Forwards: {maxf}")
    return ("\r\n".join(head) + "\r\nContent-Length: 0\r\n\r\n").encode()


def status(out: list[tuple[bytes, tuple[str, int]]]) -> list[str]:
    return [data.split(b"\r\n", 1)[0].decode() for data, _ in out]


def test_a_new_invite_goes_to_the_freest_worker_and_the_rest_of_its_call_follows():
    r = router()
    (first,) = r.handle(request("INVITE", "a"), CALLER, 0.0)
    (second,) = r.handle(request("INVITE", "b"), CALLER, 0.0)
    assert {first[1], second[1]} == set(WORKERS.values())  # one each: the freest worker
    data, target = first
    assert data.split(b"\r\n")[1].startswith(b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKfr")
    assert b"Max-Forwards: 69" in data
    assert r.handle(request("BYE", "a", branch="z9hG4bKbye"), CALLER, 1.0)[0][1] == target


def test_a_workers_response_loses_our_via_and_goes_back_to_the_caller():
    r = router()
    ((forwarded, worker),) = r.handle(request("INVITE", "a"), CALLER, 0.0)
    via_ours = forwarded.split(b"\r\n")[1]
    response = b"\r\n".join(
        [b"SIP/2.0 200 OK", via_ours, b"Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKc1", b"Call-ID: a"]
    )
    ((back, to),) = r.handle(response + b"\r\n\r\n", worker, 0.1)
    assert to == CALLER and b"z9hG4bKfr" not in back and b"branch=z9hG4bKc1" in back


def test_every_line_taken_an_invite_waits_for_the_next_line_to_free():
    r = router(lines=1)
    r.handle(request("INVITE", "a"), CALLER, 0.0)
    r.handle(request("INVITE", "b"), CALLER, 0.0)
    assert r.handle(request("INVITE", "c"), CALLER, 0.1) == []  # held, not refused
    assert r.handle(request("INVITE", "c"), CALLER, 0.2) == []  # its retransmission waits with it
    worker_of_a = r.routes[b"a"].worker
    ((data, target),) = r.call_ended("a", 0.3)
    assert data.startswith(b"INVITE ") and b"Call-ID: c" in data and target == WORKERS[worker_of_a]
    assert r.busy(worker_of_a) == 1 and r.held == {}


def test_a_held_invite_goes_on_after_hold_to_the_least_busy_worker_whose_pjsua_answers_486():
    r = router(lines=1)
    r.handle(request("INVITE", "a"), CALLER, 0.0)
    r.handle(request("INVITE", "b"), CALLER, 0.0)
    r.handle(request("INVITE", "c"), CALLER, 1.0)
    assert r.expire(1.0 + HOLD / 2) == []
    ((data, target),) = r.expire(1.0 + HOLD)
    assert b"Call-ID: c" in data and target in WORKERS.values()


def test_a_cancel_for_a_held_invite_is_answered_by_the_front():
    r = router(lines=1, workers={0: WORKERS[0]})
    r.handle(request("INVITE", "a"), CALLER, 0.0)
    r.handle(request("INVITE", "c"), CALLER, 0.0)
    out = r.handle(request("CANCEL", "c"), CALLER, 0.1)
    assert status(out) == ["SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated"]
    assert r.held == {} and r.call_ended("a", 0.2) == []


def test_no_worker_running_the_front_refuses_with_486_and_reports_it():
    r = router(workers={})
    assert status(r.handle(request("INVITE", "a"), CALLER, 0.0)) == ["SIP/2.0 486 Busy Here"]
    assert len(r.refused) == 1


def test_a_dead_workers_lines_are_freed_and_finished_routes_forgotten_after_linger():
    r = router(lines=1)
    r.handle(request("INVITE", "a"), CALLER, 0.0)
    worker = r.routes[b"a"].worker
    r.worker_lost(worker, 1.0)
    assert r.busy(worker) == 0 and b"a" in r.routes  # kept for late retransmissions
    r.expire(1.0 + LINGER + 0.1)
    assert b"a" not in r.routes


def test_a_request_of_no_known_call_gets_481_and_garbage_is_dropped():
    r = router()
    assert status(r.handle(request("BYE", "zz"), CALLER, 0.0)) == [
        "SIP/2.0 481 Call/Transaction Does Not Exist"
    ]
    assert r.handle(request("ACK", "zz"), CALLER, 0.0) == []
    assert r.handle(b"\x00\xffnot sip at all", CALLER, 0.0) == []
    assert r.handle(b"INVITE sip:x SIP/2.0\r\nVia: x\r\n\r\n", CALLER, 0.0) == []  # no Call-ID
    assert r.handle(b"\r\n\r\n", CALLER, 0.0) == []  # keep-alive
    assert r.dropped == 2


def test_max_forwards_zero_is_too_many_hops():
    r = router()
    assert status(r.handle(request("INVITE", "a", maxf=0), CALLER, 0.0)) == ["SIP/2.0 483 Too Many Hops"]
    assert [r.busy(w) for w in WORKERS] == [0, 0]  # no line taken by a call no worker saw
