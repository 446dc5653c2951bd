"""The live queue: tokens, priority, position and wait, and the doctor's controls."""
