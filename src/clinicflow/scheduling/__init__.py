"""Scheduling: doctors' availability, free slots, slot holds and appointments."""
