"""A mail domain for tests and demos: an SMTP server (RFC 5321) holding mailboxes, whose people
reply and whose server bounces, written from the RFCs; imports nothing from `adapters`.

- SMTP in: EHLO/HELO, optional STARTTLS (RFC 3207) and AUTH PLAIN/LOGIN (RFC 4954), MAIL, RCPT,
  DATA. Every accepted message is kept in `received` (envelope and parsed headers).
- Mailboxes: mail for an address in `mailboxes` is delivered; `reject` answers RCPT with
  `550 5.1.1` (the sending MTA writes the bounce); `bounce` accepts the message and then sends a
  delivery status notification to the envelope sender (RFC 3464, `multipart/report`, RFC 6522),
  as a server that finds the mailbox gone after accepting does.
- People: `replies` maps a mailbox to the text its owner answers with; the reply goes to the
  `Reply-To` (else `From`) address, quoting the original below `>` lines, with `In-Reply-To` and
  `References` (RFC 5322 §3.6.4). `out_of_office` mailboxes answer with an automatic reply
  (`Auto-Submitted: auto-replied`, RFC 3834 §5). Replies and DSNs are submitted over SMTP to
  `return_host:return_port` (a relaying MTA or the sender's own listener).

Fault injection: `tempfail` addresses get `451 4.3.0` at RCPT; `tempfail_data` answers DATA with
`451` for its next N messages; `drop_after_data` closes the connection after DATA without an
answer; `delay` seconds before every answer to DATA; `send_garbage()` submits bytes that are not
a message.

    async with MailServer(mailboxes={"eng2@field.test"}, replies={"eng2@field.test": "ACK"},
                          return_port=listener) as srv:
        ...  # an SMTP client sends to srv.port; srv.received lists what came in
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid, parseaddr
from types import TracebackType
from typing import Any, Self

import aiosmtplib
from aiosmtpd import smtp as smtpd


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    tls: bool
    login: str

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))


@dataclass
class MailServer:
    port: int = 0
    host: str = "127.0.0.1"
    domain: str = "field.test"
    mailboxes: set[str] = field(default_factory=set)
    reject: set[str] = field(default_factory=set)
    bounce: set[str] = field(default_factory=set)
    replies: dict[str, str] = field(default_factory=dict)
    out_of_office: set[str] = field(default_factory=set)
    tempfail: set[str] = field(default_factory=set)
    tempfail_data: int = 0
    drop_after_data: bool = False
    delay: float = 0.0
    # Where replies and DSNs are submitted; 0: nowhere (they are only recorded in `outgoing`).
    return_host: str = "127.0.0.1"
    return_port: int = 0
    tls_context: ssl.SSLContext | None = None  # offer STARTTLS
    users: dict[str, str] = field(default_factory=dict)  # AUTH; required when not empty
    echo: bool = False
    received: list[ReceivedMail] = field(default_factory=list)
    outgoing: list[EmailMessage | bytes] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def _protocol(self) -> smtpd.SMTP:
        kwargs: dict[str, Any] = {"hostname": f"mx.{self.domain}", "ident": "mail simulator"}
        if self.tls_context is not None:
            kwargs.update(tls_context=self.tls_context, require_starttls=bool(self.users))
        if self.users:
            kwargs.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.tls_context is not None,
            )
        return smtpd.SMTP(_Hooks(self), **kwargs)

    def _authenticate(
        self, server: smtpd.SMTP, session: smtpd.Session, envelope: smtpd.Envelope, mechanism: str, data: Any
    ) -> smtpd.AuthResult:
        login = getattr(data, "login", b"")
        password = getattr(data, "password", b"")
        user = login.decode() if isinstance(login, bytes) else str(login)
        secret = password.decode() if isinstance(password, bytes) else str(password)
        ok = self.users.get(user) == secret
        self.transcript.append(f"AUTH {mechanism} {user} {'ok' if ok else 'refused'}")
        return smtpd.AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    # ---- the server's decisions (RFC 5321 §4.2 reply codes) -------------------------------
    def rcpt(self, address: str) -> str:
        address = address.lower()
        self.transcript.append(f"RCPT {address}")
        if address in self.tempfail:
            return "451 4.3.0 mailbox temporarily unavailable"
        if address in self.reject:
            return "550 5.1.1 no such user here"
        if address in self.mailboxes or address in self.bounce or address in self.replies:
            return "250 2.1.5 OK"
        if address in self.out_of_office:
            return "250 2.1.5 OK"
        return "550 5.1.1 no such user here"

    async def data(self, session: smtpd.Session, envelope: smtpd.Envelope) -> str | None:
        raw = envelope.original_content or b""
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.drop_after_data:
            self.transcript.append("DATA dropped")
            transport = session.transport  # type: ignore[attr-defined]
            if transport is not None:
                transport.abort()
            return None
        if self.tempfail_data > 0:
            self.tempfail_data -= 1
            self.transcript.append("DATA 451")
            return "451 4.3.0 try again later"
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        login = session.auth_data if isinstance(session.auth_data, str) else ""
        got = ReceivedMail(
            str(envelope.mail_from or ""),
            tuple(a.lower() for a in envelope.rcpt_tos),
            message,
            raw,
            tls=bool(session.ssl),
            login=login,
        )
        self.received.append(got)
        self.transcript.append(f"DATA {len(raw)} bytes")
        if self.echo:
            print(f"mail: {got.mail_from} -> {', '.join(got.rcpt_tos)}: {got.subject}", flush=True)
        for rcpt in got.rcpt_tos:
            self._after_delivery(got, rcpt)
        return "250 2.0.0 OK queued"

    def _after_delivery(self, got: ReceivedMail, rcpt: str) -> None:
        if rcpt in self.bounce and got.mail_from:
            self._submit(got.mail_from, self._dsn(got, rcpt))
        elif rcpt in self.out_of_office:
            self._submit_reply(got, rcpt, "I am out of the office until Monday.", auto=True)
        elif rcpt in self.replies:
            self._submit_reply(got, rcpt, self.replies[rcpt], auto=False)

    # ---- mail going out ------------------------------------------------------------------
    def reply_to(self, got: ReceivedMail, rcpt: str, text: str, *, auto: bool = False) -> EmailMessage:
        original = got.message
        answer_to = parseaddr(str(original.get("Reply-To") or original.get("From") or ""))[1]
        out = EmailMessage()
        out["From"] = rcpt
        out["To"] = answer_to
        subject = str(original.get("Subject", ""))
        out["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        out["Date"] = formatdate(localtime=False)
        out["Message-ID"] = make_msgid(domain=self.domain)
        if original.get("Message-ID"):
            out["In-Reply-To"] = str(original["Message-ID"])
            out["References"] = str(original["Message-ID"])
        if auto:
            out["Auto-Submitted"] = "auto-replied"  # RFC 3834 §5
        body = original.get_body(preferencelist=("plain",))
        quoted = "\n".join(f"> {line}" for line in str(body.get_content() if body else "").splitlines())
        out.set_content(f"{text}\n\nOn {original.get('Date', 'a day')}, you wrote:\n{quoted}\n")
        return out

    def _submit_reply(self, got: ReceivedMail, rcpt: str, text: str, *, auto: bool) -> None:
        out = self.reply_to(got, rcpt, text, auto=auto)
        self._submit(parseaddr(str(out["To"]))[1], out, sender="" if auto else rcpt)

    def _dsn(self, got: ReceivedMail, rcpt: str) -> bytes:
        """A non-delivery report (RFC 3464 §2, in a RFC 6522 multipart/report), as the bytes a
        server writes: a human part, the machine-readable status, the returned headers."""
        boundary = f"dsn-{len(self.outgoing)}-{self.port}"
        headers = got.raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
        text = (
            f"From: Mail Delivery System <MAILER-DAEMON@mx.{self.domain}>\n"
            f"To: {got.mail_from}\n"
            "Subject: Undelivered Mail Returned to Sender\n"
            f"Date: {formatdate(localtime=False)}\n"
            f"Message-ID: {make_msgid(domain=f'mx.{self.domain}')}\n"
            "Auto-Submitted: auto-replied\n"
            "MIME-Version: 1.0\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\n'
            "\n"
            f"--{boundary}\n"
            "Content-Type: text/plain\n\n"
            f"Your message to {rcpt} could not be delivered: the mailbox is gone.\n\n"
            f"--{boundary}\n"
            "Content-Type: message/delivery-status\n\n"
            f"Reporting-MTA: dns; mx.{self.domain}\n\n"
            f"Final-Recipient: rfc822; {rcpt}\n"
            "Action: failed\n"
            "Status: 5.1.1\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: mailbox unavailable\n\n"
            f"--{boundary}\n"
            "Content-Type: text/rfc822-headers\n\n"
            f"{headers}\n\n"
            f"--{boundary}--\n"
        )
        return text.replace("\n", "\r\n").encode()

    def _submit(self, to: str, message: EmailMessage | bytes, *, sender: str = "") -> None:
        self.outgoing.append(message)
        if not self.return_port:
            return
        task = asyncio.get_running_loop().create_task(self._send(to, message, sender))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, to: str, message: EmailMessage | bytes, sender: str) -> None:
        data = message if isinstance(message, bytes) else message.as_bytes(policy=policy.SMTP)
        try:
            async with aiosmtplib.SMTP(
                hostname=self.return_host, port=self.return_port, start_tls=False, timeout=10
            ) as client:
                await client.sendmail(sender, [to], data)  # "" is the null reverse-path <>
            self.transcript.append(f"SENT to {to}")
        except (aiosmtplib.SMTPException, OSError) as exc:
            self.transcript.append(f"SEND FAILED to {to}: {exc}")

    async def send_garbage(self, to: str, data: bytes = b"\x00\xff not a message \x1b[2J") -> None:
        """Submit bytes that are no RFC 5322 message to the return address."""
        async with aiosmtplib.SMTP(hostname=self.return_host, port=self.return_port, start_tls=False) as c:
            await c.sendmail("", [to], data)


class _Hooks:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: smtpd.SMTP,
        session: smtpd.Session,
        envelope: smtpd.Envelope,
        address: str,
        options: list[str],
    ) -> str:
        answer = self.server.rcpt(address)
        if answer.startswith("250"):
            envelope.rcpt_tos.append(address)
        return answer

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: smtpd.SMTP, session: smtpd.Session, envelope: smtpd.Envelope
    ) -> str:
        answer = await self.server.data(session, envelope)
        return answer if answer is not None else "421 4.4.2 connection dropped"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `callout simulate mail`."""
    p.add_argument("--port", type=int, default=2526, help="SMTP port (0: any free port)")
    p.add_argument("--host", default="127.0.0.1", help="listen address")
    p.add_argument("--mailbox", action="append", default=[], metavar="ADDR", help="a mailbox")
    p.add_argument("--reply", action="append", default=[], metavar="ADDR=TEXT", help="its owner replies TEXT")
    p.add_argument("--reject", action="append", default=[], metavar="ADDR", help="550 5.1.1 at RCPT")
    p.add_argument("--bounce", action="append", default=[], metavar="ADDR", help="accept, then send a DSN")
    p.add_argument("--out-of-office", action="append", default=[], metavar="ADDR", help="automatic reply")
    p.add_argument("--tempfail", action="append", default=[], metavar="ADDR", help="451 4.3.0 at RCPT")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before answering DATA")
    p.add_argument("--return-port", type=int, default=2525, help="SMTP port replies and DSNs go to")
    p.add_argument("--return-host", default="127.0.0.1", help="host replies and DSNs go to")


async def main(
    *,
    port: int = 2526,
    host: str = "127.0.0.1",
    mailbox: Sequence[str] = (),
    reply: Sequence[str] = (),
    reject: Sequence[str] = (),
    bounce: Sequence[str] = (),
    out_of_office: Sequence[str] = (),
    tempfail: Sequence[str] = (),
    delay: float = 0.0,
    return_port: int = 2525,
    return_host: str = "127.0.0.1",
) -> int:
    replies = dict(r.split("=", 1) for r in reply if "=" in r)
    server = MailServer(
        port=port, host=host, mailboxes={*mailbox, *replies, *out_of_office}, replies=replies,
        reject=set(reject), bounce=set(bounce), out_of_office=set(out_of_office), tempfail=set(tempfail),
        delay=delay, return_port=return_port, return_host=return_host, echo=True,
    )  # fmt: skip
    async with server:
        print(f"mail: SMTP on {host}:{server.port}, replies to {return_host}:{return_port}", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
    return 0
