"""Pure policy functions: message fitting, rate limits, priority and escalation (the retry
back-off is in adapters/backoff.py, with the adapters' reconnect back-off).

Nothing here reads a clock, sleeps or does I/O; time is always passed in (docs/style.md, practice 7).
"""
