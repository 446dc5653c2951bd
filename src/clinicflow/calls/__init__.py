"""Calls: audio and video calls inside a consultation, their signalling and their record."""
