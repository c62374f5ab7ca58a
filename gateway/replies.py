"""The reply grammar: one for every text channel (SMS, pager two-way, radio text), plus DTMF.

A reply is a keyword, optionally followed by the incident it is about::

    reply     = keyword [ " " ( reference | serial ) ]
    reference = "INC-" year "-" number      ; e.g. INC-2026-000042 or INC-2026-42
    year      = 4 digits
    number    = 1 to 6 digits
    serial    = 1 to 9 digits               ; the incident's serial number, e.g. ACK 42

    keyword                                              meaning    DTMF
    ACK, ACKNOWLEDGE, ACKNOWLEDGED, OK, YES, Y, 1        ACK        1
    DECLINE, REJECT, NO, N, UNABLE, 2                    DECLINE    2
    EN ROUTE, ENROUTE, EN-ROUTE, RESPONDING, 3           EN_ROUTE   3
    ON SCENE, ONSCENE, ON-SCENE, ARRIVED, AT SCENE, 4    ON_SCENE   4
    CLEAR, CLEARED, AVAILABLE, 5                         CLEAR      5

Matching ignores case, leading and trailing whitespace, runs of whitespace between words and
trailing punctuation (``. ! ? , ; :``). A reference is normalised to upper case with a
zero-padded six-digit number (``inc-2026-42`` -> ``INC-2026-000042``). A digit on its own is a
keyword (``1`` means ACK), never a serial. Anything else — other words, extra text after the
reference, non-ASCII letters, more than 64 characters — is not a reply: `parse_reply` returns
None and never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class ReplyKind(StrEnum):
    ACK = "ack"
    DECLINE = "decline"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    CLEAR = "clear"


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    reference: str | None = None  # full "INC-2026-000042", upper-cased
    short_ref: int | None = None  # "ACK 1234" -> 1234 (incident serial number)


KEYWORDS: dict[ReplyKind, tuple[str, ...]] = {
    ReplyKind.ACK: ("ACK", "ACKNOWLEDGE", "ACKNOWLEDGED", "OK", "YES", "Y", "1"),
    ReplyKind.DECLINE: ("DECLINE", "REJECT", "NO", "N", "UNABLE", "2"),
    ReplyKind.EN_ROUTE: ("EN ROUTE", "ENROUTE", "EN-ROUTE", "RESPONDING", "3"),
    ReplyKind.ON_SCENE: ("ON SCENE", "ONSCENE", "ON-SCENE", "ARRIVED", "AT SCENE", "4"),
    ReplyKind.CLEAR: ("CLEAR", "CLEARED", "AVAILABLE", "5"),
}
DTMF_DIGITS: dict[str, ReplyKind] = {
    "1": ReplyKind.ACK,
    "2": ReplyKind.DECLINE,
    "3": ReplyKind.EN_ROUTE,
    "4": ReplyKind.ON_SCENE,
    "5": ReplyKind.CLEAR,
}

_KIND_OF: dict[str, ReplyKind] = {word: kind for kind, words in KEYWORDS.items() for word in words}
# Longest first, so the alternation never settles for a prefix ("ACK" of "ACKNOWLEDGED").
_KEYWORD_RE = "|".join(re.escape(word) for word in sorted(_KIND_OF, key=len, reverse=True))
_REPLY = re.compile(
    rf"(?P<keyword>{_KEYWORD_RE})"
    r"(?: (?:INC-(?P<year>[0-9]{4})-(?P<number>[0-9]{1,6})|(?P<serial>[0-9]{1,9})))?",
    re.ASCII,
)
_TRAILING_PUNCTUATION = ".!?,;:"
# Longer than any reply the grammar accepts, with room for padding; longer input is not a reply.
_MAX_LENGTH = 64
# Bound on the work done for a hostile input before whitespace is collapsed.
_MAX_RAW_LENGTH = 1024


def parse_reply(text: str) -> Reply | None:
    """Parse one inbound text as a reply, or None if it is not one. Never raises."""
    stripped = text.strip()
    if len(stripped) > _MAX_RAW_LENGTH:
        return None
    words = stripped.split()
    if sum(len(word) + 1 for word in words) > _MAX_LENGTH:
        return None
    normal = " ".join(words).rstrip(_TRAILING_PUNCTUATION).rstrip()
    if not normal.isascii():
        return None
    match = _REPLY.fullmatch(normal.upper())
    if match is None:
        return None
    kind = _KIND_OF[match["keyword"]]
    if match["year"] is not None:
        return Reply(kind, reference=f"INC-{match['year']}-{int(match['number']):06d}")
    if match["serial"] is not None:
        return Reply(kind, short_ref=int(match["serial"]))
    return Reply(kind)


def reply_for_dtmf(digit: str) -> Reply | None:
    """The reply a DTMF digit stands for ("1" .. "5"), or None for any other key."""
    kind = DTMF_DIGITS.get(digit.strip())
    return Reply(kind) if kind is not None else None
