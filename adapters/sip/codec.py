"""Sans-I/O part of the SIP CTI source: who is calling, read from the raw INVITE.

pjsua2 hands us the whole INVITE as text (`OnIncomingCallParam.rdata.wholeMsg`) during
`onIncomingCall`; everything here is plain string work on that text and never raises, whatever the
network sent. Caller number: the first P-Asserted-Identity (RFC 3325 §9.1) that carries a number,
else the user part of From (RFC 3261 §20.20). Called number: the Request-URI user (RFC 3261 §7.1),
else To.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

# RFC 3261 §7.3.3 compact header forms that matter here.
_COMPACT = {"f": "from", "t": "to", "i": "call-id", "m": "contact"}
# A user part the caller uses to say "no number" (RFC 3323 §4.1.1.3, common PBX practice).
_WITHHELD = {"anonymous", "unknown", "unavailable", "restricted", "private", ""}
_MAX_MESSAGE = 65_536  # a SIP message over UDP is far smaller; more is garbage, not a caller


@dataclass(frozen=True, slots=True)
class NameAddr:
    """`"Display" <uri>;params` or a bare `uri;params` (RFC 3261 §25.1 name-addr / addr-spec)."""

    display: str | None
    uri: str


@dataclass(frozen=True, slots=True)
class Identity:
    """What the desk learns about an incoming call before anyone picks up."""

    number: str | None  # caller number; None when withheld or absent
    name: str | None  # caller display name
    called: str | None  # the number or user that was dialled
    call_id: str | None  # the SIP Call-ID header
    number_from: str  # "pai", "from" or "" (no number), for the audit trail
    privacy: bool = False  # Privacy: id (RFC 3323 §4.2): the caller asked to withhold their identity


def split_message(raw: str) -> tuple[str, list[tuple[str, str]]]:
    """Start line and headers (name lower-cased, compact forms expanded, folded lines joined).

    Stops at the blank line that ends the headers, or at the end of the text when it is missing.
    """
    head = raw[:_MAX_MESSAGE].replace("\r\n", "\n").replace("\r", "\n").split("\n\n", 1)[0]
    lines = head.split("\n")
    start = lines[0].strip() if lines else ""
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # RFC 3261 §7.3.1 line folding
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name or " " in name:
            continue
        headers.append((_COMPACT.get(name, name), value.strip()))
    return start, headers


def header_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    """Every value of a header, in order; comma-separated values split (RFC 3261 §7.3.1).

    Commas inside quotes or angle brackets do not split.
    """
    name = _COMPACT.get(name.lower(), name.lower())
    out: list[str] = []
    for key, value in headers:
        if key == name:
            out.extend(v for v in _split_commas(value) if v)
    return out


def _split_commas(value: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth, quoted, escaped = 0, False, False
    for ch in value:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0 and ch == ",":
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def parse_name_addr(value: str) -> NameAddr | None:
    """`"Caller" <sip:0412@host>;tag=1` -> NameAddr("Caller", "sip:0412@host"). None if no URI."""
    value = value.strip()
    display: str | None = None
    rest = value
    if rest.startswith('"'):
        text, end = _quoted(rest)
        if end is None:
            return None
        display, rest = text, rest[end:].strip()
    lt = rest.find("<")
    if lt >= 0:
        gt = rest.find(">", lt)
        if gt < 0:
            return None
        if display is None:
            token = rest[:lt].strip()
            display = token or None
        uri = rest[lt + 1 : gt].strip()
    else:
        if display is not None:
            return None  # a quoted display name needs <uri> (RFC 3261 §25.1)
        # addr-spec: header parameters follow the URI after ';' (RFC 3261 §20.10)
        uri = rest.split(";", 1)[0].strip()
    if not uri or ":" not in uri:
        return None
    return NameAddr(display or None, uri)


def _quoted(text: str) -> tuple[str, int | None]:
    """Unescape the quoted-string at the start of `text` (RFC 3261 §25.1); end index after it."""
    out: list[str] = []
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    return "".join(out), None


def format_name_addr(display: str | None, uri: str) -> str:
    """The inverse of `parse_name_addr` (used by tests and simulators' documentation)."""
    if display is None:
        return f"<{uri}>"
    escaped = display.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}" <{uri}>'


def uri_number(uri: str) -> str | None:
    """The user part of a sip:/sips: URI, or the number of a tel: URI (RFC 3966 §3).

    Parameters (`;user=phone`, `;npdi`, `;phone-context=…`) are dropped, %-escapes decoded.
    Withheld identities (`anonymous`, …) give None.
    """
    scheme, colon, rest = uri.strip().partition(":")
    if not colon:
        return None
    scheme = scheme.lower()
    if scheme in ("sip", "sips"):
        user, at, _host = rest.partition("@")
        if not at:
            return None
        user = user.split(":", 1)[0]  # user:password (RFC 3261 §19.1.1)
    elif scheme == "tel":
        user = rest
    else:
        return None
    number = unquote(user.split(";", 1)[0]).strip()
    if number.lower() in _WITHHELD or any(ch in number for ch in '<>"\r\n '):
        return None
    return number


def request_uri(start_line: str) -> str | None:
    """The Request-URI of a request line `INVITE sip:112@host SIP/2.0` (RFC 3261 §7.1)."""
    parts = start_line.split()
    if len(parts) != 3 or not parts[2].upper().startswith("SIP/"):
        return None
    return parts[1]


def caller_identity(raw: str) -> Identity:
    """Read the caller's identity from a raw INVITE. Never raises."""
    start, headers = split_message(raw)
    number: str | None = None
    number_from = ""
    name: str | None = None
    for value in header_values(headers, "p-asserted-identity"):
        addr = parse_name_addr(value)
        if addr is None:
            continue
        candidate = uri_number(addr.uri)
        if candidate is not None:
            number, number_from = candidate, "pai"
            name = addr.display
            break
    from_values = header_values(headers, "from")
    from_addr = parse_name_addr(from_values[0]) if from_values else None
    if number is None and from_addr is not None:
        number = uri_number(from_addr.uri)
        number_from = "from" if number is not None else ""
    if name is None and from_addr is not None and from_addr.display is not None:
        name = from_addr.display if from_addr.display.lower() not in _WITHHELD else None
    called: str | None = None
    ruri = request_uri(start)
    if ruri is not None:
        called = uri_number(ruri)
    if called is None:
        to_values = header_values(headers, "to")
        to_addr = parse_name_addr(to_values[0]) if to_values else None
        called = uri_number(to_addr.uri) if to_addr is not None else None
    call_ids = [v for k, v in headers if k == "call-id"]
    privacy = any(
        token.strip().lower() == "id"
        for value in header_values(headers, "privacy")
        for token in re.split(r"[;\s]+", value)
    )
    return Identity(
        number=number,
        name=name,
        called=called,
        call_id=call_ids[0] if call_ids and call_ids[0] else None,
        number_from=number_from,
        privacy=privacy,
    )
