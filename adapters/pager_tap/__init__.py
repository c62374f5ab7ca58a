"""TAP pager channel: pages go to a paging terminal over TAP 1.8 (Telocator Alphanumeric Protocol)
on a serial line, optionally through a Hayes modem, or over TCP ("TAP over IP"). One-way: the
terminal's response code is the strongest evidence there is.

Layout: sans-I/O `blocks.py` (framing, checksum, escaping, responses), `session.py` (the TAP
session state machine) and `hayes.py` (modem result codes); I/O in `link.py` (the line, through
adapters/transport.py, and the modem) and `channel.py`. Registry kind: `tap`."""
