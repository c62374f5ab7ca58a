"""SIP CTI source: callout is the desk's own SIP endpoint (pjsua2, optional `sip` extra).

codec.py reads the caller from the raw INVITE (sans-I/O), desk.py is the one pjsua2 thread,
channel.py the asyncio bridge (`build(name, options) -> CtiSource`), options.py the settings.
Importing this package, channel.py, codec.py or options.py never needs pjsua2.
"""
