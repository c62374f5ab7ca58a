"""Application services: what the API, CTI sources, field replies and timers ask the core to do.

Each operation is one store transaction: it checks, changes, audits, and commits together.
"""
