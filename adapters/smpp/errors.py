"""Errors of the SMPP codec: every one is a `ProtocolError` named ``"smpp"`` (not to be confused
with the GSM modem's TPDU `adapters.sms_modem.pdu.PduError`)."""

from __future__ import annotations

from adapters.errors import ProtocolError
from adapters.smpp.protocol import Status


class SmppError(ProtocolError):
    """Anything wrong with SMPP 3.4 data (PDUs, short_message content, receipts)."""

    codec = "smpp"

    def __init__(self, problem: str, *, data: bytes | str = b"") -> None:
        super().__init__(problem, data=data)


class FramingError(SmppError):
    """The byte stream cannot be split any more (command_length impossible): close the session."""

    def __init__(self, reason: str, *, command_length: int) -> None:
        self.command_length = command_length
        super().__init__(reason)


class PduError(SmppError):
    """One SMPP PDU is malformed. The stream goes on; answer with `status` (§4.3 generic_nack)."""

    def __init__(self, reason: str, *, command_id: int, sequence: int, status: int) -> None:
        self.command_id = command_id
        self.sequence = sequence
        self.status = status
        super().__init__(reason)


class UnknownCommandError(PduError):
    """A command_id we do not implement (§5.1.2.1); answer generic_nack ESME_RINVCMDID."""

    def __init__(self, *, command_id: int, sequence: int) -> None:
        super().__init__(
            f"unsupported command_id 0x{command_id:08X}",
            command_id=command_id,
            sequence=sequence,
            status=Status.ESME_RINVCMDID,
        )


class FieldError(SmppError):
    """A value that cannot be encoded (too long, not ASCII, out of range)."""
