"""I/O of the email channel: one SMTP submission per send (aiosmtplib), and callout's own SMTP
listener (aiosmtpd) for the replies and bounces that the MTA forwards to the tokened address.

"Sent" means the submission server answered 250 to the end of DATA (RFC 5321 §4.1.1.4): it took
responsibility for the message. Nothing confirms delivery except a bounce's absence, so the
channel does not claim `confirms_delivery`; a DSN that says `failed` fails the attempt for good
and the ladder moves on. Evidence: the Message-ID and the server's reply.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import aiosmtplib
from aiosmtpd import smtp as smtpd

from adapters.base import (
    Capabilities,
    Channel,
    DeliveryReport,
    HealthState,
    InboundText,
    OutboundMessage,
    SendReceipt,
)
from adapters.email import codec
from adapters.email.options import Options

log = logging.getLogger(__name__)
_REMEMBERED = 10_000  # message id -> address of recent sends, to name the replier's endpoint


class EmailChannel(Channel):
    kind = "email"

    def __init__(self, *, name: str, options: Options) -> None:
        super().__init__(
            name=name,
            capabilities=Capabilities(
                max_length=options.max_length, max_parts=1, confirms_delivery=False, two_way=True
            ),
        )
        self.options = options
        self._failures = 0
        self._sent: OrderedDict[str, str] = OrderedDict()
        self.listen_port: int | None = None
        self.garbled = 0

    # ---- lifecycle ---------------------------------------------------------------------
    async def _open(self) -> None:
        if self.options.listen:
            loop = asyncio.get_running_loop()
            handler = _Handler(self)
            server = await loop.create_server(
                lambda: smtpd.SMTP(handler, hostname="callout", ident="callout listener"),
                self.options.listen_host,
                self.options.listen_port,
            )
            self.listen_port = server.sockets[0].getsockname()[1]

            async def close_server() -> None:
                server.close()
                await server.wait_closed()

            self.stack.push_async_callback(close_server)
        self.start_task("probe", self._probe_while_down)
        self.set_health(HealthState.UP, "ready")

    async def _close(self) -> None:
        self.set_health(HealthState.DOWN, "stopped")

    def _client(self) -> aiosmtplib.SMTP:
        o = self.options
        context = None
        if o.security != "none":
            context = ssl.create_default_context(cafile=o.ca_file or None)
            if not o.verify_tls:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        return aiosmtplib.SMTP(
            hostname=o.host,
            port=o.port,
            use_tls=o.security == "tls",
            start_tls=o.security == "starttls",
            tls_context=context,
            validate_certs=o.verify_tls,
            username=o.username or None,
            password=o.password or None,
            timeout=o.timeout,
        )

    async def _probe_while_down(self) -> None:
        while True:
            await asyncio.sleep(self.options.probe_interval)
            if self.health.state is not HealthState.DOWN:
                continue
            client = self._client()
            try:
                await client.connect()
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                continue
            self._failures = 0
            self.set_health(HealthState.UP, f"{self.options.host}:{self.options.port} answers again")

    # ---- sending -----------------------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendReceipt:
        o = self.options
        mail = codec.compose(
            message,
            secret=o.token_secret,
            from_address=o.from_address,
            from_name=o.from_name,
            reply_address=o.reply_address,
            now=datetime.now(UTC),
        )
        ref = str(mail["Message-ID"])
        sender = codec.envelope_sender(o.reply_address, o.from_address, message.message_id, o.token_secret)
        client = self._client()
        try:
            await client.connect()
            try:
                refused, reply = await client.send_message(mail, sender=sender, recipients=[message.address])
            finally:
                if client.is_connected:
                    await client.quit()
        except aiosmtplib.SMTPRecipientsRefused as exc:
            first = exc.recipients[0]
            raise self._refused(message, first.code, first.message, ref) from exc
        except aiosmtplib.SMTPResponseException as exc:  # sender refused, DATA refused, AUTH failed
            raise self._refused(message, exc.code, exc.message, ref) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:  # no session at all
            self._failures += 1
            if self._failures >= o.down_after:
                self.set_health(HealthState.DOWN, f"{self._failures} failed connections: {exc}")
            raise self.fail(
                f"SMTP connection failed: {type(exc).__name__}", temporary=True, endpoint=message.address
            ) from exc
        self._failures = 0
        self.set_health(HealthState.UP, "ready")
        if refused:  # one recipient only, so a refusal here would have raised; be safe
            code, text = next(iter(refused.values()))
            raise self._refused(message, code, text, ref)
        self._remember(message.message_id, message.address)
        return SendReceipt(
            channel_ref=ref, evidence={"message_id": ref, "smtp_code": 250, "smtp_text": reply[:200]}
        )

    def _refused(self, message: OutboundMessage, code: int, text: str, ref: str) -> Exception:
        """4xx: try again later; 5xx: this will not get better (RFC 5321 §4.2.1)."""
        self._failures = 0
        return self.fail(
            f"SMTP {code} {text}"[:200],
            temporary=400 <= code < 500 or code < 0,
            endpoint=message.address,
            message_id=ref,
            smtp_code=code,
            smtp_text=text[:200],
        )

    def _remember(self, message_id: str, address: str) -> None:
        self._sent[message_id] = address
        self._sent.move_to_end(message_id)
        while len(self._sent) > _REMEMBERED:
            self._sent.popitem(last=False)

    # ---- receiving ---------------------------------------------------------------------
    def accepts(self, address: str) -> bool:
        """The listener takes mail only for our own tokened addresses (it is no open relay)."""
        own = self.options.reply_address or self.options.from_address
        local, _, domain = own.rpartition("@")
        a_local, _, a_domain = address.rpartition("@")
        base = a_local.partition("+")[0]
        return a_domain.lower() == domain.lower() and base.lower() == local.lower()

    def received(self, data: bytes, recipients: tuple[str, ...]) -> str:
        """One message from the listener; returns what it was, for the log."""
        try:
            inbound = codec.parse(data, secret=self.options.token_secret, recipients=recipients)
        except codec.EmailFormatError as exc:
            self.garbled += 1
            log.warning("channel %s: garbled mail %d: %s", self.name, self.garbled, exc.problem)
            return "garbled"
        if isinstance(inbound, codec.Ignored):
            log.info("channel %s: mail ignored: %s", self.name, inbound.why)
            return "ignored"
        o = self.options
        if isinstance(inbound, codec.Bounce):
            ref = codec.message_id_header(o.token_secret, inbound.message_id, o.from_address)
            evidence = {
                "dsn_action": inbound.action,
                "dsn_status": inbound.status,
                "dsn_diagnostic": inbound.diagnostic,
                "message_id": ref,
            }
            if inbound.action == "delayed":
                log.info("channel %s: delivery of %s delayed: %s", self.name, ref, inbound.status)
                return "delayed"
            delivered = inbound.action in ("delivered", "relayed", "expanded")
            if not delivered and not inbound.permanent_failure:
                return "delayed"
            reason = f"DSN {inbound.action} {inbound.status} {inbound.diagnostic}".strip()
            self.emit(DeliveryReport(ref, delivered=delivered, reason=reason, evidence=evidence))
            return "bounce" if not delivered else "delivered"
        address = self._sent.get(inbound.message_id, inbound.sender)
        self.emit(
            InboundText(
                address=address,
                text=inbound.text,
                message_id=inbound.message_id,
                evidence={"email_from": inbound.sender, "email_message_id": inbound.header_message_id},
            )
        )
        return "reply"


class _Handler:
    """aiosmtpd's hooks (RFC 5321 §4.1.1.3 RCPT, §4.1.1.4 DATA)."""

    def __init__(self, channel: EmailChannel) -> None:
        self.channel = channel

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: smtpd.SMTP,
        session: smtpd.Session,
        envelope: smtpd.Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self.channel.accepts(address):
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: smtpd.SMTP, session: smtpd.Session, envelope: smtpd.Envelope
    ) -> str:
        content = envelope.original_content or b""
        what = self.channel.received(content, tuple(envelope.rcpt_tos))
        return f"250 2.0.0 {what}"


def build(name: str, options: dict[str, Any], max_length: int | None = None) -> Channel:
    opts = Options(**({**options, "max_length": max_length} if max_length is not None else options))
    return EmailChannel(name=name, options=opts)
