"""The clinic's own settings: who it is, where, its time zone and public address, its rules."""
