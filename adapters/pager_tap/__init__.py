"""TAP pager channel: pages go to a paging terminal over TAP 1.8 (Telocator Alphanumeric Protocol)
on a serial line, optionally through a Hayes modem, or over TCP ("TAP over IP"). One-way: the
terminal's response code is the strongest evidence there is."""
