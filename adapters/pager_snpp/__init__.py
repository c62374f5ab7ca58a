"""SNPP pager channel: pages go to an SNPP server (RFC 1861, level 2) over TCP. One-way: the
server's reply code is the evidence."""
