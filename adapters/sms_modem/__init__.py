"""GSM modem SMS channel: a pool of AT modems (3GPP TS 27.005 / 27.007) on serial ports or TCP,
PDU mode (TS 23.040, TS 23.038), status reports as delivery receipts, replies as inbound text."""
