"""Consultations: a patient and a doctor talking in real time, and nothing of it lost."""
