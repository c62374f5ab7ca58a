"""Webhook channel: posts each message as JSON to an HTTP endpoint (a field-crew app, a paging
bureau's API, a chat bridge); acks and replies come back through callout's inbound API."""
