"""The sent journal: a send the channel accepted is written down at once, before the store has it.

The engine records send outcomes in the store a transaction later (gateway.engine.outcomes). A
process killed in between finds the attempt `sending` at restart and sends it again
(at-least-once): a second copy for every send accepted but not yet recorded, which at a few
hundred sends a second is tens of copies per kill. So the moment a channel accepts a message one
line goes to an append-only file: one write(2) on a descriptor opened with O_APPEND, which the
kernel keeps when the process dies (kill -9, the OOM killer, a crash). At restart an attempt found
`sending` whose acceptance is in the journal is recorded `sent` from it, with the channel's own
evidence, instead of being sent again.

The file is `sent-<digest of the store URL and node name>.journal`, so two databases or two
nodes never read each other's, next to the SQLite database file, or on PostgreSQL in
`[store] data_dir` if that is an existing folder; `[delivery] sent_journal = false` turns it
off. A line is used only for the attempt it names, with the same delivery and address.

Not fsynced: after a power cut or a kernel crash the tail may be gone, and those attempts are sent
again as without the journal. The journal only ever says what a channel accepted, so nothing is
recorded as reached on its word that the channel did not take.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from adapters.base import Capabilities, SendReceipt
from gateway.domain.models import Attempt
from gateway.engine.sending import Outcome
from gateway.settings import Settings

log = logging.getLogger(__name__)
COMPACT_AT = 1 << 20  # bytes appended before the file is rewritten with only what is unrecorded


class SentJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._unrecorded: dict[int, bytes] = {}  # attempt id -> its line, until the store has it
        self._found = _read(path)  # what the last run wrote down, by attempt id
        self._appended = 0
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def accepted(self, o: Outcome, a: Attempt) -> None:
        """The channel took the message: write it down before anything else happens."""
        if o.receipt is None:
            return
        line = (
            json.dumps(
                {
                    "attempt": o.attempt_id,
                    "delivery": a.delivery_id,
                    "address": a.address,
                    "channel": o.channel,
                    "ref": o.receipt.channel_ref,
                    "delivered": o.receipt.delivered,
                    "evidence": o.receipt.evidence,
                    "fitted": o.evidence,
                },
                separators=(",", ":"),
                default=str,
            ).encode()
            + b"\n"
        )
        self._unrecorded[o.attempt_id] = line
        try:
            os.write(self._fd, line)
        except OSError as exc:  # a full disk costs a duplicate after a crash, never a send
            log.warning("sent journal %s: cannot append: %s", self.path, exc)
        self._appended += len(line)

    def recorded(self, attempt_ids: Iterable[int]) -> None:
        """The store has these outcomes: their lines are no longer needed."""
        for attempt_id in attempt_ids:
            self._unrecorded.pop(attempt_id, None)
        if self._appended >= COMPACT_AT:
            self.compact()

    def recovered(self, a: Attempt, caps: Capabilities | None) -> Outcome | None:
        """The acceptance the last run wrote down for this attempt, as its send outcome."""
        doc = self._found.pop(a.id, None)
        if doc is None or doc.get("delivery") != a.delivery_id or doc.get("address") != a.address:
            return None
        receipt = SendReceipt(
            channel_ref=doc.get("ref"),
            delivered=bool(doc.get("delivered")),
            evidence={**dict(doc.get("evidence") or {}), "recovered_from": "sent journal"},
        )
        return Outcome(a.id, a.channel, receipt=receipt, caps=caps, evidence=dict(doc.get("fitted") or {}))

    def compact(self) -> None:
        """Rewrite the file with only the lines the store does not have yet (and the last run's
        that are still to be looked at), replacing it atomically."""
        tmp = self.path.with_suffix(".tmp")
        lines = [*(_line(d) for d in self._found.values()), *self._unrecorded.values()]
        try:
            tmp.write_bytes(b"".join(lines))
            tmp.replace(self.path)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError as exc:
            log.warning("sent journal %s: cannot compact: %s", self.path, exc)
            return
        os.close(self._fd)
        self._fd, self._appended = fd, 0

    def forget_found(self) -> None:
        """Resumed: what the last run wrote down and nobody asked for is of no more use."""
        self._found.clear()
        self.compact()

    def close(self) -> None:
        os.close(self._fd)


def open_journal(settings: Settings) -> SentJournal | None:
    """The sent journal for this store and node, or None where there is to be none."""
    url = settings.store.resolved_url()
    if url.startswith("sqlite"):  # next to the database file
        db = url.split("///", 1)[-1]
        if not db or db == ":memory:":
            return None
        folder = Path(db).parent
    else:
        folder = settings.store.data_dir
    if not settings.delivery.sent_journal or not folder.is_dir():
        return None
    digest = hashlib.sha256(f"{url}|{settings.node.name}".encode()).hexdigest()
    try:
        return SentJournal(folder / f"sent-{digest[:16]}.journal")
    except OSError as exc:
        log.warning("no sent journal in %s (%s): a kill -9 sends what was in flight again", folder, exc)
        return None


def _line(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), default=str).encode() + b"\n"


def _read(path: Path) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return found
    for line in raw.splitlines():
        try:  # the last line may be cut short by the crash: skip what does not parse
            doc = json.loads(line)
            found[int(doc["attempt"])] = doc
        except (ValueError, KeyError, TypeError):
            continue
    return found
