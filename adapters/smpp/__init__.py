"""SMPP 3.4 channel: callout as an ESME bound as transceiver to an operator's SMSC.

Modules: `protocol.py` (the numbers of SMPP 3.4), `pdus.py` (PDU dataclasses and TLVs),
`errors.py` (the codec's errors, rooted in `ProtocolError`), `codec.py` (bytes to PDUs and back,
the stream splitter), `content.py` (what short_message carries: GSM 03.38 / UCS2, UDH, Appendix B
receipt text), `receipts.py` (receipts matched to messages), `session.py` (the ESME session as a
sans-I/O state machine), `channel.py` (its asyncio pump) and `options.py`.

The codec is our own. We looked at the maintained PyPI libraries first and chose not to use them:
- smpplib (python-smpplib 2.2.x) is a blocking socket client; its PDU classes are not sans-I/O
  and have no type hints, and fed random PDU bodies its parser raises AttributeError, KeyError
  and struct.error rather than one typed error.
- aiosmpplib (0.7.x) is asyncio, but its ESME owns the StreamReader, the reconnect loop, the
  retry timer and the correlator, so the protocol cannot be driven byte by byte in tests; it
  ships no py.typed (mypy strict would need an override), and garbage PDUs escape as bare
  ValueError / UnicodeDecodeError.
Neither gives a streaming splitter fed arbitrary chunks. The subset we need (bind, submit,
deliver, enquire_link, unbind, generic_nack, a few TLVs, Appendix B receipts, UDH) is a few
hundred lines, tested against tables of real PDUs and fuzzed with hypothesis.
"""
