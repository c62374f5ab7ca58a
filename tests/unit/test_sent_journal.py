"""The sent journal's file (gateway/engine/journal.py): lines survive the process, compaction
keeps only what the store has not recorded, and a line is trusted only for its own attempt."""

from __future__ import annotations

from pathlib import Path

from adapters.base import Capabilities, SendReceipt
from gateway.domain.models import Attempt
from gateway.domain.states import DeliveryState
from gateway.engine import journal as journal_module
from gateway.engine.journal import SentJournal
from gateway.engine.sending import Outcome


def attempt(n: int, delivery: int | None = None) -> Attempt:
    return Attempt(
        id=n,
        delivery_id=delivery if delivery is not None else 100 + n,
        endpoint_index=0,
        channel="radio",
        address=f"R{n}",
        state=DeliveryState.SENDING,
        tries=0,
        created_at=0.0,
        updated_at=0.0,
    )


def accepted(n: int) -> Outcome:
    return Outcome(n, "radio", receipt=SendReceipt(f"ref-{n}", evidence={"n": n}), evidence={"parts": 1})


def test_what_was_accepted_and_not_recorded_is_there_for_the_next_run(tmp_path: Path):
    path = tmp_path / "sent.journal"
    j = SentJournal(path)
    for n in (1, 2, 3):
        j.accepted(accepted(n), attempt(n))
    j.accepted(Outcome(4, "radio"), attempt(4))  # a failed send is not written down
    j.recorded([1])
    j.close()  # the process dies: no compaction, every line is still in the file
    again = SentJournal(path)
    caps = Capabilities(confirms_delivery=True)
    got = again.recovered(attempt(2), caps)
    assert got is not None and got.receipt is not None
    assert (got.attempt_id, got.channel, got.receipt.channel_ref, got.caps) == (2, "radio", "ref-2", caps)
    assert got.receipt.evidence == {"n": 2, "recovered_from": "sent journal"} and got.evidence == {"parts": 1}
    assert again.recovered(attempt(2), caps) is None  # used once
    assert again.recovered(attempt(3, delivery=999), caps) is None  # same id, another delivery
    assert again.recovered(attempt(4), caps) is None
    again.close()


def test_compaction_keeps_only_the_unrecorded_lines(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(journal_module, "COMPACT_AT", 1)  # compact at every `recorded`
    path = tmp_path / "sent.journal"
    j = SentJournal(path)
    for n in range(1, 6):
        j.accepted(accepted(n), attempt(n))
    j.recorded([1, 2, 3])
    assert len(path.read_bytes().splitlines()) == 2
    j.accepted(accepted(6), attempt(6))  # appends to the new file
    j.close()
    again = SentJournal(path)
    assert [n for n in range(1, 7) if again.recovered(attempt(n), None)] == [4, 5, 6]
    again.forget_found()
    assert path.read_bytes() == b""
    again.close()


def test_a_line_cut_short_by_the_crash_is_skipped(tmp_path: Path):
    path = tmp_path / "sent.journal"
    j = SentJournal(path)
    j.accepted(accepted(1), attempt(1))
    j.close()
    with path.open("ab") as f:
        f.write(b'{"attempt":2,"deliv')
    again = SentJournal(path)
    assert again.recovered(attempt(1), None) is not None
    assert again.recovered(attempt(2), None) is None
    again.close()
