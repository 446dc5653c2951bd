"""Booking by conversation: reading a patient's request (`understanding`, or Gemini's function
calls in `gemini_reader`), the assistant's words (`wording`), and the routes (`api`, `pages`).
The rules of the conversation are the service's: `assistant/service/booking.py`."""
