"""Asterisk Manager Interface CTI source.

codec.py is the AMI wire format (sans-I/O), tracker.py turns AMI events into call events
(pure), channel.py is the asyncio client (`build(name, options) -> CtiSource`), options.py the
settings.
"""
