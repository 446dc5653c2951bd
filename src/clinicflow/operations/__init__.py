"""Operating the clinic's install: readiness, the worker's heartbeat, backups and keys."""
