"""Sans-I/O APRS messages (APRS 1.0.1 ch. 14) of the KISS/APRS radio channel: the info field of
an AX.25 UI frame (`framing.py`) as message, ack or reject, and back.

References cited below:

- APRS: "APRS Protocol Reference" 1.0.1 (2000), chapter 3 (APRS over AX.25: destination is the
  software "tocall", digipeater path), chapter 14 "Messages, Bulletins and Announcements", and
  the 1999 reply-ack addendum (aprs.org/aprs11/replyacks.txt).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from adapters.radio_kiss.framing import FrameError

__all__ = [
    "ADDRESSEE_WIDTH",
    "MAX_TEXT",
    "AprsAck",
    "AprsError",
    "AprsMessage",
    "AprsPacket",
    "AprsReject",
    "check_addressee",
    "encode_ack",
    "encode_message",
    "encode_reject",
    "parse_info",
    "sanitize_text",
    "valid_msgno",
]


class AprsError(FrameError):
    """A malformed APRS message, or text/addressee/number that cannot be put in one."""

    codec = "aprs"


# ---- APRS messages (APRS 1.0.1 chapter 14) -----------------------------------------------------

MAX_TEXT = 67  # "The message text may be up to 67 characters long" (ch. 14)
ADDRESSEE_WIDTH = 9  # "The Addressee field is 9 characters long" (ch. 14), space-padded
_FORBIDDEN = "|~{"  # "The message text ... may not contain the | ~ or { characters" (ch. 14)
_MSGNO = re.compile(r"[A-Za-z0-9]{1,5}")
_ADDRESSEE = re.compile(r"[A-Z0-9-]{1,9}")
_RESPONSE = re.compile(r"(?P<kind>ack|rej)(?P<no>[A-Za-z0-9]{1,5})(?:\}(?P<ra>[A-Za-z0-9]{0,5}))?")
_REPLY_ACK_TAIL = re.compile(r"\{(?P<no>[A-Za-z0-9]{2})\}(?P<ra>[A-Za-z0-9]{2})?$")
_OLD_TAIL = re.compile(r"\{(?P<no>[A-Za-z0-9]{1,5})$")


@dataclass(frozen=True, slots=True)
class AprsMessage:
    addressee: str
    text: str
    msgno: str | None = None  # absent: the sender wants no ack (ch. 14)
    reply_ack: str | None = None  # "{MM}AA": AA acknowledges our message AA (replyacks.txt)


@dataclass(frozen=True, slots=True)
class AprsAck:
    addressee: str
    msgno: str


@dataclass(frozen=True, slots=True)
class AprsReject:
    addressee: str
    msgno: str


AprsPacket = AprsMessage | AprsAck | AprsReject


def valid_msgno(msgno: str) -> bool:
    """Ch. 14: "a message identifier ... of 1-5 alphanumeric characters"."""
    return _MSGNO.fullmatch(msgno) is not None


def check_addressee(addressee: str) -> str:
    """A station or tactical call we can address: 1-9 of A-Z, 0-9, "-"; returned upper-cased."""
    norm = addressee.strip().upper()
    if not _ADDRESSEE.fullmatch(norm):
        raise AprsError(f"addressee must be 1-9 letters, digits or '-', got {addressee!r}")
    return norm


def sanitize_text(text: str) -> str:
    """Make `text` legal message text without changing its length: every character outside
    printable ASCII becomes its closest ASCII letter ("é" -> "e") or "?", and the characters
    ch. 14 forbids become look-alikes ("{" -> "(", "|" -> "!", "~" -> "-")."""
    swaps = {"{": "(", "|": "!", "~": "-"}
    out = []
    for ch in text:
        if ch in swaps:
            out.append(swaps[ch])
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            first = base[:1]
            out.append(swaps.get(first, first) if first and " " <= first <= "~" else "?")
    clean = "".join(out)
    if _RESPONSE.fullmatch(clean):  # "ack12" as text would read as an ack: "Ack12" does not
        clean = clean[0].upper() + clean[1:]
    return clean


def _head(addressee: str) -> bytes:
    return f":{check_addressee(addressee).ljust(ADDRESSEE_WIDTH)}:".encode("ascii")


def encode_message(addressee: str, text: str, msgno: str | None = None) -> bytes:
    """The info field ":ADDRESSEE:text{NN" (ch. 14). Text must already be legal: at most 67
    printable ASCII characters without | ~ { (see `sanitize_text`)."""
    if len(text) > MAX_TEXT:
        raise AprsError(f"message text longer than {MAX_TEXT} characters ({len(text)})")
    if any(not " " <= ch <= "~" or ch in _FORBIDDEN for ch in text):
        raise AprsError(f"message text has characters APRS forbids: {text!r}")
    if _RESPONSE.fullmatch(text):
        raise AprsError(f"message text {text!r} would read as an ack or reject")
    if msgno is not None and not valid_msgno(msgno):
        raise AprsError(f"message number must be 1-5 letters or digits, got {msgno!r}")
    tail = f"{{{msgno}" if msgno is not None else ""
    return _head(addressee) + (text + tail).encode("ascii")


def encode_ack(addressee: str, msgno: str) -> bytes:
    """ ":ADDRESSEE:ackNN": the receiver acks message NN of the station named in ADDRESSEE."""
    if not valid_msgno(msgno):
        raise AprsError(f"message number must be 1-5 letters or digits, got {msgno!r}")
    return _head(addressee) + f"ack{msgno}".encode("ascii")


def encode_reject(addressee: str, msgno: str) -> bytes:
    if not valid_msgno(msgno):
        raise AprsError(f"message number must be 1-5 letters or digits, got {msgno!r}")
    return _head(addressee) + f"rej{msgno}".encode("ascii")


def parse_info(info: bytes) -> AprsPacket | None:
    """The APRS message in an info field, or None when the packet is some other APRS type
    (position, status, ...). Raises AprsError for a ":" packet that is not a valid message."""
    if info[:1] != b":":
        return None
    if len(info) < 2 + ADDRESSEE_WIDTH or info[1 + ADDRESSEE_WIDTH : 2 + ADDRESSEE_WIDTH] != b":":
        raise AprsError("message without a 9-character addressee field and ':'", info)
    try:
        head = info[1 : 1 + ADDRESSEE_WIDTH].decode("ascii")
    except UnicodeDecodeError as exc:
        raise AprsError("addressee is not ASCII", info) from exc
    addressee = head.rstrip(" ")
    if not addressee or any(not " " < ch <= "~" for ch in addressee):
        raise AprsError(f"bad addressee {head!r}", info)
    # Text is ASCII by the spec; stations in the wild send UTF-8 (and worse): decode leniently.
    body = info[2 + ADDRESSEE_WIDTH :].decode("utf-8", errors="replace").rstrip("\r\n")
    response = _RESPONSE.fullmatch(body)
    if response is not None:
        kind = AprsAck if response["kind"] == "ack" else AprsReject
        return kind(addressee, response["no"])
    tail = _REPLY_ACK_TAIL.search(body)
    if tail is not None:
        return AprsMessage(addressee, body[: tail.start()].strip(" "), tail["no"], tail["ra"] or None)
    tail = _OLD_TAIL.search(body)
    if tail is not None:
        return AprsMessage(addressee, body[: tail.start()].strip(" "), tail["no"])
    return AprsMessage(addressee, body.strip(" "))
