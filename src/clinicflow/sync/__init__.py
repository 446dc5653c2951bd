"""Offline clients: the change feed and the idempotent push (docs/sync.md)."""
