"""Pure policy functions: back-off, message fitting, rate limits, priority and escalation.

Nothing here reads a clock, sleeps or does I/O; time is always passed in (STYLE.md practice 7).
"""
