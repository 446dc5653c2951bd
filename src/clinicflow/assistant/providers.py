"""Which provider answers: `gemini.GeminiProvider` when `GEMINI_API_KEY` is set,
`offline.OfflineProvider` (the default: retrieval, no network, no model) otherwise; and which
reader reads booking messages (`build_booking_reader`), likewise.

Both answer one request from what this consultation holds, as a stream of text
(`requests.Provider`).
"""

from __future__ import annotations

from clinicflow.assistant.booking.understanding import Reader, RulesReader
from clinicflow.assistant.offline import OfflineProvider
from clinicflow.assistant.requests import Provider
from clinicflow.config import Settings


def build_provider(settings: Settings) -> Provider:
    """Gemini when a key is set, the offline provider otherwise."""
    if settings.gemini_api_key:
        # Imported only when configured: the SDK is large and the offline default needs none of it.
        from clinicflow.assistant.gemini import GeminiProvider

        return GeminiProvider(
            api_key=settings.gemini_api_key,
            model=settings.gemini_model,
            base_url=settings.gemini_base_url,
            timeout_seconds=settings.assistant_timeout_seconds,
        )
    return OfflineProvider()


def build_booking_reader(settings: Settings) -> Reader:
    """What reads booking messages: Gemini's function calls when a key is set, the rules
    otherwise."""
    if settings.gemini_api_key:
        from clinicflow.assistant.booking.gemini_reader import GeminiReader

        return GeminiReader(
            api_key=settings.gemini_api_key,
            model=settings.gemini_model,
            base_url=settings.gemini_base_url,
            timeout_seconds=settings.assistant_timeout_seconds,
        )
    return RulesReader()
