"""MQTT radio channel (kind ``mqtt_radio``): dispatch messages to radios (and whole talkgroups)
through an MQTT broker that radio gateways are attached to; receipts, acks, unit status and free
text come back on the same broker (docs/protocols/mqtt-radio.md).

Topic scheme
============

Every topic sits under a configurable prefix (option `prefix`, default ``callout``; it may have
several levels, e.g. ``site1/callout``). Radio and talkgroup ids are single topic levels.

=================================  =================  ==========================================
topic                              direction          meaning
=================================  =================  ==========================================
``<prefix>/radio/<radio>/down``    callout → radio    one message for one radio (QoS 1)
``<prefix>/group/<tg>/down``       callout → group    one publish for every radio in talkgroup
                                                      ``<tg>``; the radio gateway fans it out
``<prefix>/radio/<radio>/up``      radio → callout    receipt, ack, unit status, free text (QoS 1)
``<prefix>/radio/<radio>/status``  radio → all        presence, **retained**: ``online`` or
                                                      ``offline``; the radio sets its last will
                                                      to ``offline`` (MQTT 5 §3.1.2.5)
``<prefix>/gateway/<gw>/status``   gateway → all      presence of a radio gateway that fronts many
                                                      radios over one connection, retained,
                                                      last will ``offline``
=================================  =================  ==========================================

A radio's status payload is either the bare word ``online``/``offline`` or a JSON object
``{"status": "online", "gateway": "<gw>"}``. A radio that names a gateway counts as offline while
that gateway's status is ``offline`` (one connection has only one last will, so a gateway that
carries a thousand radios announces its own death, not each radio's). An empty retained payload
clears what is known (MQTT 5 §3.3.1.3). Unknown presence counts as online, except after a
reconnect: a radio known before it is not sent to until its presence is read again
(`adapters.radio_mqtt.presence`, option `presence_wait`).

Addresses in contact plans
--------------------------
``R123`` is the radio with id ``R123``; ``tg:ALPHA`` is talkgroup ``ALPHA``. An id is 1-64
characters of letters, digits, ``_``, ``-`` and ``.`` (so never a topic separator, a wildcard
``+``/``#`` or U+0000, MQTT 5 §4.7.1, §1.5.4); ids are case-sensitive.

Payloads (UTF-8 JSON objects; unknown fields are ignored)
---------------------------------------------------------
Downlink::

    {"id": "1234", "incident": "INC-2026-000042", "text": "INC-2026-000042 P1 kitchen fire ...",
     "priority": "P1", "ack": true, "purpose": "dispatch", "ts": 1790000000.123}

``id`` is callout's attempt id and the idempotency key: QoS 1 is at-least-once (MQTT 5 §4.3.2),
and a send that lost its connection before the PUBACK is retried with the same id, so a radio
must act on an id once. ``ack`` says whether a person must acknowledge; ``ts`` is POSIX seconds.

Uplink, on ``<prefix>/radio/<radio>/up``::

    {"type": "delivered", "id": "1234"}            the radio displayed message 1234 (automatic)
    {"type": "ack", "id": "1234"}                  a person pressed ack on message 1234
    {"type": "status", "status": "en_route", "id": "u17"}   unit status: en_route, on_scene,
                                                   available (or "clear"), returning,
                                                   unavailable, out_of_service
    {"type": "text", "text": "ETA 5 MIN", "id": "u18"}      free text, parsed by callout's
                                                   reply grammar
    {"type": "position", "lat": 51.5072, "lon": -0.1276, "fix_ts": 1764648000.0}
                                                   a GPS fix (WGS 84 degrees; fix_ts: when it
                                                   was taken, POSIX seconds, optional)

A ``status`` uplink may carry the same ``lat``, ``lon`` and ``fix_ts`` (the radio's fix when the
crew pressed the status key): it is then a status and a position.

``delivered`` and ``ack`` may carry ``"group": "ALPHA"`` when the radio got the message through
talkgroup ALPHA. For ``status`` and ``text`` the optional ``id`` is the radio's own uplink id
(unique per radio); callout drops an uplink whose (radio, type, id) it has already handled, so
redeliveries after a reconnect never produce a second event.

Sessions
--------
The channel connects with MQTT 5, a stable client id (option `client_id`), Clean Start 0 and a
Session Expiry Interval (option `session_expiry`, MQTT 5 §3.1.2.4, §3.1.2.11.2), so uplinks the
broker queues while callout is away are delivered when it comes back. Brokers must keep sessions
across restarts (mosquitto: ``persistence true``) and must queue enough messages per client
(mosquitto: ``max_queued_messages``, default 1000, is too low for a fleet gateway), and should set
``set_tcp_nodelay true`` for low latency.
"""
