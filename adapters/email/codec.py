"""Sans-I/O part of the email channel: the outgoing message, the per-message token, and the
meaning of a message that comes back (a reply, a delivery status notification, an auto-reply).

- Outgoing (RFC 5322): `From`, `To`, `Reply-To: <local>+<token>@<domain>` (subaddressing, so the
  reply finds its message whatever the replier's client does with the subject), a subject that
  carries the incident and the token (`[INC-2026-000042 #17-3f9c0a1b2d] …`), `Message-ID:
  <token@domain>` (RFC 5322 §3.6.4), `Auto-Submitted: auto-generated` (RFC 3834 §5).
- The token is `<message id>-<10 hex digits of HMAC-SHA256(secret, message id)>`: a reply or a
  bounce naming a token whose MAC is wrong matches nothing.
- A delivery status notification (RFC 3464: `multipart/report; report-type=delivery-status`,
  RFC 6522) carries one block per recipient; `Action: failed` (§2.3.3) with a 5.x.x `Status`
  (RFC 3463 §3.1) is a permanent failure; `delayed` is only news; `delivered`/`relayed` confirm.
- An automatic answer (`Auto-Submitted` other than `no`, RFC 3834 §5.1; `Precedence: bulk`,
  `auto_reply`) is never taken as a person's reply: an out-of-office is not an acknowledgement.
- A reply's text is the first line of its `text/plain` body that is neither quoted (`>`) nor
  empty; the reply grammar of the core then reads it.

No sockets and no clock: the date is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parseaddr

from adapters.base import OutboundMessage
from adapters.errors import ProtocolError

TOKEN_RE = re.compile(r"(?<![0-9A-Za-z])([0-9]{1,18})-([0-9a-f]{10})(?![0-9a-f])")
_RETURNED = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")  # RFC 3462 §3
_MAX_BYTES = 1_000_000  # a reply or a DSN is small; a bigger message is refused unparsed


class EmailFormatError(ProtocolError):
    codec = "email"


@dataclass(frozen=True, slots=True)
class Reply:
    """A person's answer to the message `message_id`."""

    message_id: str
    sender: str
    text: str  # the first unquoted line
    header_message_id: str = ""


@dataclass(frozen=True, slots=True)
class Bounce:
    """One recipient block of a DSN about our message `channel_ref` (its Message-ID)."""

    channel_ref: str
    message_id: str
    recipient: str
    action: str  # failed, delayed, delivered, relayed, expanded (RFC 3464 §2.3.3)
    status: str  # e.g. 5.1.1 (RFC 3463)
    diagnostic: str

    @property
    def permanent_failure(self) -> bool:
        return self.action == "failed" and not self.status.startswith("4")


@dataclass(frozen=True, slots=True)
class Ignored:
    why: str
    message_id: str = ""


Inbound = Reply | Bounce | Ignored


def token(secret: str, message_id: str) -> str:
    mac = hmac.new(secret.encode(), message_id.encode(), hashlib.sha256).hexdigest()[:10]
    return f"{message_id}-{mac}"


def verify(secret: str, text: str) -> str | None:
    """The message id of the first valid token in `text`, or None."""
    for m in TOKEN_RE.finditer(text):
        if hmac.compare_digest(token(secret, m.group(1)), m.group(0)):
            return m.group(1)
    return None


def message_id_header(secret: str, message_id: str, from_address: str) -> str:
    """The `Message-ID` of our message (RFC 5322 §3.6.4): the channel's reference for it."""
    return f"<{token(secret, message_id)}@{from_address.rpartition('@')[2]}>"


def plus_address(address: str, tok: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local}+{tok}@{domain}"


def compose(
    msg: OutboundMessage,
    *,
    secret: str,
    from_address: str,
    from_name: str,
    reply_address: str,
    now: datetime,
) -> EmailMessage:
    tok = token(secret, msg.message_id)
    first = msg.text.strip().splitlines()[0] if msg.text.strip() else msg.purpose
    out = EmailMessage(policy=policy.SMTP)
    out["From"] = f"{from_name} <{from_address}>" if from_name else from_address
    out["To"] = msg.address
    out["Reply-To"] = plus_address(reply_address or from_address, tok)
    out["Subject"] = f"[{msg.incident_ref} #{tok}] {msg.priority} {first[:120]}"
    out["Message-ID"] = message_id_header(secret, msg.message_id, from_address)
    out["Date"] = format_datetime(now)
    out["Auto-Submitted"] = "auto-generated"  # RFC 3834 §5: auto-responders must not answer
    if msg.priority == "P1":
        out["Importance"] = "high"  # RFC 2156 §5.3
    lines = [msg.text, ""]
    if msg.needs_ack:
        lines.append("Reply ACK to acknowledge (or EN ROUTE, ON SCENE, DECLINE) as the first line.")
    lines.append(f"Reference: {msg.incident_ref} #{tok}")
    out.set_content("\n".join(lines) + "\n")
    return out


def envelope_sender(reply_address: str, from_address: str, message_id: str, secret: str) -> str:
    """The SMTP `MAIL FROM` (RFC 5321 §4.1.1.2): bounces come back to a tokened address (VERP)."""
    return plus_address(reply_address or from_address, token(secret, message_id))


def parse(data: bytes, *, secret: str, recipients: tuple[str, ...] = ()) -> Inbound:
    """What a message received by the listener means. Raises EmailFormatError on bytes that
    are not a message at all; a message that names none of ours is `Ignored`."""
    if len(data) > _MAX_BYTES:
        raise EmailFormatError(f"message of {len(data)} bytes is too big", data=data)
    if not data.strip() or b":" not in data.split(b"\n", 1)[0]:
        raise EmailFormatError("no header section (RFC 5322 §2.1)", data=data)
    try:
        mail = BytesParser(policy=policy.default).parsebytes(data)
    except (ValueError, TypeError, IndexError) as exc:
        raise EmailFormatError(f"unparseable message: {exc}", data=data) from exc
    if mail.defects and not mail.keys():
        raise EmailFormatError(f"unparseable message: {mail.defects[0]!r}", data=data)
    try:  # the standard parser reads headers lazily: a broken one raises only when read
        if (
            mail.get_content_type() == "multipart/report"
            and mail.get_param("report-type") == "delivery-status"
        ):
            return _dsn(mail, secret, recipients)
        return _reply(mail, secret, recipients)
    except (ValueError, TypeError, IndexError, LookupError, AttributeError) as exc:
        if isinstance(exc, EmailFormatError):
            raise
        raise EmailFormatError(f"broken header or part: {type(exc).__name__}: {exc}", data=data) from exc


def _header(mail: Message, name: str) -> str:
    value = mail.get(name)
    return "" if value is None else str(value).strip()


def _reply(mail: Message, secret: str, recipients: tuple[str, ...]) -> Inbound:
    auto = _header(mail, "Auto-Submitted").lower()
    precedence = _header(mail, "Precedence").lower()
    if (auto and auto != "no") or precedence in ("bulk", "junk", "list", "auto_reply"):
        return Ignored(f"automatic answer ({auto or precedence})")
    addresses = " ".join([*recipients, *(a for _, a in getaddresses([_header(mail, "To")]))])
    message_id = verify(secret, addresses) or verify(secret, _header(mail, "Subject"))
    message_id = message_id or verify(secret, _header(mail, "In-Reply-To") + _header(mail, "References"))
    if message_id is None:
        return Ignored("no valid callout token in the recipient, subject or references")
    sender = parseaddr(_header(mail, "From"))[1]
    return Reply(message_id, sender, _first_line(mail), _header(mail, "Message-ID"))


def _first_line(mail: Message) -> str:
    part = mail.get_body(preferencelist=("plain",)) if isinstance(mail, EmailMessage) else None
    if part is None:
        return ""
    try:
        body = part.get_content()
    except (LookupError, ValueError):
        return ""
    for line in str(body).splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(">"):
            return stripped
    return ""


def _dsn(mail: Message, secret: str, recipients: tuple[str, ...]) -> Inbound:
    status_part: Message | None = None
    original: Message | None = None
    for part in mail.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status" and status_part is None:
            status_part = part
        elif ctype in _RETURNED and original is None:
            original = part
    if status_part is None:
        raise EmailFormatError("DSN without a message/delivery-status part (RFC 3464 §2)")
    ref = _original_message_id(original)
    message_id = verify(secret, " ".join(recipients)) or verify(secret, ref)
    if message_id is None:
        return Ignored("DSN about a message that is not ours")
    blocks = _status_blocks(status_part)
    per_recipient = [b for b in blocks[1:] if "action" in b] or [b for b in blocks if "action" in b]
    if not per_recipient:
        raise EmailFormatError("DSN without a per-recipient block (RFC 3464 §2.3)")
    # The worst block speaks for the message: one failed recipient fails the attempt.
    order = {"failed": 0, "delayed": 1, "delivered": 2, "relayed": 2, "expanded": 2}
    block = min(per_recipient, key=lambda b: order.get(b.get("action", ""), 3))
    recipient = block.get("final-recipient", block.get("original-recipient", "")).partition(";")[2].strip()
    diagnostic = block.get("diagnostic-code", "").partition(";")[2].strip() or block.get(
        "diagnostic-code", ""
    )
    return Bounce(
        channel_ref=ref or f"<{token(secret, message_id)}>",
        message_id=message_id,
        recipient=recipient,
        action=block.get("action", "").lower().split()[0] if block.get("action") else "",
        status=block.get("status", "").split()[0] if block.get("status") else "",
        diagnostic=" ".join(diagnostic.split())[:300],
    )


def _original_message_id(original: Message | None) -> str:
    if original is None:
        return ""
    payload = original.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return _header(payload[0], "Message-ID")
    if isinstance(payload, str):
        headers = BytesParser(policy=policy.default).parsebytes(payload.encode("utf-8", "replace"))
        return _header(headers, "Message-ID")
    return ""


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message block then the per-recipient blocks (RFC 3464 §2.1), keys lower-cased."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [{k.lower(): str(v).strip() for k, v in p.items()} for p in payload if isinstance(p, Message)]
    blocks: list[dict[str, str]] = [{}]
    for line in str(payload).splitlines():
        if not line.strip():
            if blocks[-1]:
                blocks.append({})
            continue
        key, sep, value = line.partition(":")
        if sep:
            blocks[-1][key.strip().lower()] = value.strip()
    return [b for b in blocks if b]
