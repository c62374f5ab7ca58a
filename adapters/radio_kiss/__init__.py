"""KISS/APRS radio channel: APRS messages (APRS 1.0.1 ch. 14) in AX.25 UI frames through a KISS
TNC on a serial port or KISS over TCP (direwolf's port 8001), opened by adapters/transport.py.

Layout: the sans-I/O codec in `framing.py` (KISS, AX.25) and `aprs.py` (APRS messages),
`messaging.py` (sans-I/O message numbers, retries, acks and duplicates), `channel.py` (the link
and its loops), `options.py` (validated options). Registry kind: `kiss_radio`."""
