"""Voice callout: a SIP call to the responder that speaks the message and takes a DTMF digit as
the reply (docs/protocols/voice.md).

codec.py is sans-I/O (the spoken script, the worker's JSON-line protocol, the classification of
final SIP statuses), speech.py renders text to WAV with espeak-ng and caches it, worker.py is one
pjsua2 worker process (up to four calls), pool.py supervises K of them, channel.py is the
`voice` channel on the lifecycle skeleton, options.py its settings. Only worker.py imports pjsua2,
and it runs in its own process.
"""
