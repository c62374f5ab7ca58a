"""Email channel: SMTP submission with STARTTLS or implicit TLS and authentication; replies and
bounces (DSN) come back to callout's own SMTP listener, matched by a per-message token."""
