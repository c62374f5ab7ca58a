"""Application services: what the API, CTI sources, field replies and timers ask the core to do.

Each operation is one store transaction: it checks, changes, audits, and commits together.
`incidents` (create, update, triage), `dispatch` (send to resources, notify stakeholders),
`acks` (desk and field acknowledgements, replies), `unit_status`, `stand_down` (resolve, cancel,
close), `escalation`, `field` (inbound channel events) and `cti` (calls); `deliveries` is the one
way a delivery is created.
"""
