"""Notifications: every message that leaves clinicflow goes through here."""
