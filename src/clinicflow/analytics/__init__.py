"""Analytics: how the clinic is doing (volumes, waits, no-shows), from a daily roll-up."""
