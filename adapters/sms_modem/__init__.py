"""GSM modem SMS channel: a pool of AT modems (3GPP TS 27.005 / 27.007) on serial ports or TCP,
PDU mode (TS 23.040, TS 23.038), status reports as delivery receipts, replies as inbound text.

Layout: sans-I/O `codec.py` (the AT dialogue), `answers.py` (reading its answers, +CMS ERROR
causes), `alphabet.py` (GSM 7-bit, DCS), `pdu_fields.py` and `pdu.py` (TPDUs), `reports.py`
(status reports and reassembly); I/O in `modem.py` (one modem), `pool.py` (sharing the load) and
`channel.py`; the line itself is adapters/transport.py. Registry kind: `sms_modem`."""
