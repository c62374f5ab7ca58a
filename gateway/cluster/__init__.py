"""Several gateway nodes on one PostgreSQL database: node identity and heartbeats, leases on the
attempts being sent, one-of-a-kind timers and events to every node (docs/deployment.md)."""
