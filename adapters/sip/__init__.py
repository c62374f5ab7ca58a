"""SIP CTI source: callout is the desk's own SIP endpoint (pjsua2, optional `sip` extra).

codec.py reads the caller from the raw INVITE (sans-I/O), desk.py is the one pjsua2 thread and
its endpoint, calls.py the desk's calls on that thread, media_keys.py the media socket
bookkeeping for real RTP (pure), channel.py the asyncio bridge (`build(name, options) ->
CtiSource`), options.py the settings. Importing this package, channel.py, codec.py, media_keys.py
or options.py never needs pjsua2.
"""
