"""The audit log: admins read the audit trail (core.audit) and its chain's state."""
