"""Settings: the only module that reads the environment.

Every entry point (server, CLI, tests) builds one `Settings` and hands it down, so a
value can never differ between the web process and the command that migrated its database.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "clinicflow-development-secret-do-not-use-in-production"


# The surfaces `deps.Throttled` counts; each has `<surface>_per_user_per_hour` and
# `<surface>_per_address_per_hour` below.
ThrottledSurface = Literal["consultation_requests", "holds", "uploads", "push_subscriptions"]


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    env: Environment = Field(
        default=Environment.production,
        validation_alias=AliasChoices("CLINICFLOW_ENV", "env"),
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/clinicflow.db",
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("REDIS_URL", "redis_url")
    )
    secret_key: str = Field(
        default=DEV_SECRET,
        validation_alias=AliasChoices("CLINICFLOW_SECRET_KEY", "secret_key"),
    )
    # The clinic's public address for links; unset, links follow each request's address
    # (`clinic.links`), and `served_url` for those made outside a request.
    public_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CLINICFLOW_PUBLIC_URL", "public_url"),
    )
    # Set by `clinicflow serve` to its own address, for the embedded worker's links.
    served_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CLINICFLOW_SERVED_URL", "served_url"),
    )
    var_dir: Path = Field(
        default=Path("./var"), validation_alias=AliasChoices("CLINICFLOW_VAR_DIR", "var_dir")
    )

    # argon2id cost; the defaults are argon2-cffi's (RFC 9106 low-memory profile).
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 65536

    access_token_minutes: int = 15
    refresh_token_days: int = 30
    web_session_days: int = 30

    otp_valid_minutes: int = 5
    otp_max_attempts: int = 5
    otp_requests_per_phone_per_hour: int = 5
    otp_min_seconds_between_requests: int = 30

    login_window_seconds: int = 15 * 60
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 30

    dev_outbox_size: int = 200

    # Operators' views. `/metrics` answers only a request bearing this token
    # (`Authorization: Bearer …`) when it is set; without one it is open outside production
    # and absent in production. The API documentation (/docs, /openapi.json) is on outside
    # production and off in production unless API_DOCS=true; its scripts and styles are
    # our own static files, never a CDN's.
    metrics_token: str | None = Field(default=None, repr=False)
    api_docs: bool | None = None

    hold_minutes: int = 5
    waitlist_offer_minutes: int = 15
    cancellation_window_minutes: int = 60
    max_future_appointments: int = 3
    max_slot_range_days: int = 31
    # Run the periodic jobs inside the web process; turn off when `clinicflow worker` runs them.
    embedded_worker: bool = True

    # Realtime sockets: a client silent this long is closed (it pings every 15 s); a client
    # this many events behind is closed with 1013 and resumes; presence outlives a process
    # that died without saying goodbye by this long.
    ws_idle_seconds: float = 30.0
    # A socket's login is checked again at most this often (a send or subscribe in between
    # trusts the last check), so a sign-out stops an open socket within this time.
    ws_login_recheck_seconds: float = 5.0
    ws_send_buffer: int = 256
    # A socket whose send has made no progress this long (its client stopped reading) is
    # closed with 1013; the client resumes from its last seq when it reconnects.
    ws_send_stall_seconds: float = 30.0
    ws_allowed_origins: list[str] = Field(default_factory=list)
    presence_ttl_seconds: float = 45.0
    realtime_gap_wait_seconds: float = 0.25

    # Fernet keys for encrypted columns and files, newest first (FIELD_ENCRYPTION_KEYS as a
    # JSON list); the first encrypts, all decrypt. Required in production; elsewhere, empty
    # means one derived from the secret key. `clinicflow keys rotate` moves rows to the first.
    field_encryption_keys: list[str] = Field(default_factory=list, repr=False)
    attachment_max_bytes: int = 10 * 1024 * 1024
    # Consultation requests one patient may have waiting for a doctor at once.
    max_pending_consultations: int = 3
    # Per hour, what one user and one network address may spend on the surfaces that cost
    # the clinic money or attention (`deps.Throttled`; 429 with Retry-After past either).
    consultation_requests_per_user_per_hour: int = 10
    consultation_requests_per_address_per_hour: int = 60
    holds_per_user_per_hour: int = 60
    holds_per_address_per_hour: int = 600
    uploads_per_user_per_hour: int = 60
    uploads_per_address_per_hour: int = 300
    push_subscriptions_per_user_per_hour: int = 20
    push_subscriptions_per_address_per_hour: int = 100
    # SMS, email and push messages one person (and one phone number or address) is sent
    # per hour; past it the in-app copy alone is kept (urgent ones still go out).
    notification_sends_per_user_per_hour: int = 20
    notification_sends_per_address_per_hour: int = 20
    # Every request body but an upload's: JSON and forms. The longest field (a 20,000
    # character note) fits many times over, escaped; a larger body is refused with 413 as it
    # streams in, so an anonymous client cannot make the server buffer hundreds of MB.
    request_body_max_bytes: int = 512 * 1024

    # Connection pools: many sockets write at once, and a request that waits longer than
    # the pool's timeout fails, so a server database gets a pool sized for that.
    database_pool_size: int = 20
    database_max_overflow: int = 20
    # A statement that takes longer than this (waiting for a lock included: that is what a
    # request feels) is counted in `clinicflow_db_slow_queries_total` and logged as
    # `db.slow_query` with its text but never its values, which may be a patient's.
    slow_query_seconds: float = Field(default=0.25, ge=0)
    redis_max_connections: int = 100
    redis_pool_timeout_seconds: float = 5.0
    # A Redis that does not answer must fail a call quickly, so the caller takes its
    # fallback (docs/realtime.md, "When Redis is down") instead of holding a request.
    redis_connect_timeout_seconds: float = 2.0

    # Printed at the top of prescriptions and record PDFs (CLINIC_NAME, CLINIC_ADDRESS,
    # CLINIC_PHONE); every time on them is in the clinic's zone (CLINIC_TIMEZONE, an IANA
    # name). A later change makes these the clinic's settings in the database.
    clinic_name: str = "clinicflow"
    clinic_address: str = ""
    clinic_phone: str = ""
    clinic_timezone: str = "Africa/Nairobi"

    # Notifications. The channels the clinic sends on (in-app is always on); a person
    # chooses among these. Push needs the VAPID keys; SMS and email fall back to the
    # development outbox (or a log line in production) while their provider is not set.
    notification_channels: list[str] = Field(
        default_factory=lambda: ["in_app", "sms", "push", "email"]
    )
    # The dispatcher: how many due deliveries one claim takes, how long a claimed row is
    # left alone before another worker may take it (a worker that died), how often it
    # looks, and how many messages it sends at once.
    notification_batch_size: int = 100
    notification_lease_seconds: float = 60.0
    notification_poll_seconds: float = 1.0
    notification_concurrency: int = 20
    # Twilio (SMS): the base URL is configurable so tests talk to a local stand-in.
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = Field(default=None, repr=False)
    twilio_from: str | None = None
    # Which SMS gateway carries SMS: "twilio" (above) or "africastalking" (below). The
    # chosen one needs its credentials, else SMS falls back as when none is set.
    sms_provider: Literal["twilio", "africastalking"] = "twilio"
    # Africa's Talking: the app's username ("sandbox" on the sandbox), its API key, the
    # API's base URL (https://api.sandbox.africastalking.com for the sandbox; tests point
    # it at a stand-in), and the sender id (short code or alphanumeric) if the account has one.
    africastalking_base_url: str = "https://api.africastalking.com"
    africastalking_username: str | None = None
    africastalking_api_key: str | None = Field(default=None, repr=False)
    africastalking_sender_id: str | None = None
    # Email over SMTP.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_start_tls: bool = True
    smtp_from: str = "clinicflow <no-reply@clinicflow.local>"
    # Web Push: the VAPID key pair (the private key as base64url DER or PEM).
    vapid_public_key: str | None = None
    vapid_private_key: str | None = Field(default=None, repr=False)
    vapid_subject: str = "mailto:admin@clinicflow.local"
    # The push services a browser's subscription may name (a leading dot: any subdomain).
    # The worker posts to whatever endpoint is stored, so an open list would let anyone
    # make it call addresses inside the clinic's network. Endpoints must be https, except
    # a loopback host listed here (a development or test push service).
    push_service_hosts: list[str] = Field(
        default_factory=lambda: [
            "fcm.googleapis.com",
            "updates.push.services.mozilla.com",
            "web.push.apple.com",
            ".notify.windows.com",
        ]
    )

    # Calls (docs/calls.md): the STUN and TURN servers browsers are handed. With
    # `turn_secret` (coturn's `static-auth-secret`) TURN credentials are minted per request
    # in coturn's REST scheme, valid `turn_ttl_seconds`; otherwise `turn_username` and
    # `turn_password` are handed out as they are.
    stun_urls: list[str] = Field(default_factory=list)
    turn_urls: list[str] = Field(default_factory=list)
    turn_secret: str | None = Field(default=None, repr=False)
    turn_username: str | None = None
    turn_password: str | None = Field(default=None, repr=False)
    turn_ttl_seconds: int = Field(default=3600, ge=60, le=86400)
    # A LiveKit server (all three set) carries calls' media in a room per call instead of
    # peer to peer; join tokens are minted per participant, valid `livekit_token_seconds`.
    livekit_url: str | None = None
    livekit_api_key: str | None = None
    livekit_api_secret: str | None = Field(default=None, repr=False)
    livekit_token_seconds: int = Field(default=7200, ge=60, le=86400)
    # Each `call` frame costs a transaction: one person may send `call_frames_per_window` of
    # them per consultation in `call_frame_window_seconds` (a call's start sends a burst of
    # some 20 to 50 ICE candidates, an ICE restart another), and is refused beyond that.
    call_frames_per_window: int = Field(default=150, ge=10)
    call_frame_window_seconds: int = Field(default=10, ge=1, le=3600)

    # The consultation assistant (`@b`): Gemini through google-genai when a key is set,
    # otherwise the offline retrieval provider. `gemini_base_url` points the SDK elsewhere
    # (a proxy, or the tests' stand-in server).
    gemini_api_key: str | None = Field(
        default=None,
        repr=False,
        validation_alias=AliasChoices("GEMINI_API_KEY", "gemini_api_key"),
    )
    gemini_model: str = "gemini-2.5-flash"
    gemini_base_url: str | None = None
    assistant_timeout_seconds: float = 30.0
    assistant_max_question_chars: int = 1000
    assistant_requests_per_user_per_hour: int = 30
    assistant_requests_per_consultation_per_hour: int = 60
    # How many of the latest messages an answer may draw on.
    assistant_transcript_messages: int = 200
    # Memory in Redis expires this long after its last change; the worker deletes the memory
    # of consultations that closed more than `assistant_memory_retention_days` ago.
    assistant_memory_ttl_days: int = 90
    assistant_memory_retention_days: int = 30

    # Operating the install (docs/deploy.md). `/health/ready` fails when no worker (embedded
    # or `clinicflow worker`) has beaten for this long: a few beats, as a slow job delays one.
    worker_stale_seconds: float = 60.0
    # The proxies (comma-separated addresses, or "*") whose X-Forwarded-For and
    # X-Forwarded-Proto `clinicflow serve` believes: per-address limits then count the real
    # client, and HSTS is sent when the proxy says the client came over https. Only the
    # proxy's own address belongs here; anyone else could claim any address.
    forwarded_allow_ips: str = "127.0.0.1"
    # Addresses or networks (JSON list, e.g. ["10.0.0.5", "10.1.0.0/16"]) a scraper must
    # come from to read /metrics, besides bearing METRICS_TOKEN; empty: any address.
    metrics_allowed_addresses: list[str] = Field(default_factory=list)
    # Where `clinicflow worker --metrics-port` listens: loopback for a Prometheus on the same
    # host; a container's address (0.0.0.0) when Prometheus runs in another container. The
    # token and allow-list above guard it wherever it listens.
    worker_metrics_address: str = "127.0.0.1"
    # Errors go to Sentry when set (core.errortracking scrubs clinical text and tokens).
    sentry_dsn: str | None = Field(default=None, repr=False)

    @field_validator("clinic_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        # A typo would print every time on every paper in UTC without a word; refuse it.
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"CLINIC_TIMEZONE {value!r} is not an IANA time zone") from None
        return value

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> Settings:
        # A forged access token is a full account takeover, so production must never run on
        # the secret that ships in the repository or on one short enough to guess.
        if self.env is not Environment.development and (
            self.secret_key == DEV_SECRET or len(self.secret_key) < 32
        ):
            raise ValueError(
                "CLINICFLOW_SECRET_KEY must be set to a random value of at least 32 characters "
                "outside development (set CLINICFLOW_ENV=development for a local run)"
            )
        return self

    @model_validator(mode="after")
    def _refuse_derived_field_keys_in_production(self) -> Settings:
        # Clinical text must not hang on the signing secret, which an operator may rotate
        # (every session ends) without re-encrypting anything: production names its own keys.
        if self.env is Environment.production and not self.field_encryption_keys:
            raise ValueError(
                "FIELD_ENCRYPTION_KEYS must be set in production (a JSON list of Fernet keys; "
                "`clinicflow keys generate` prints one; docs/deploy.md, 'Encryption keys')"
            )
        return self

    @property
    def is_development(self) -> bool:
        return self.env is Environment.development

    def throttle(self, surface: ThrottledSurface) -> tuple[int, int]:
        """(per user, per address) hourly budgets of a throttled surface."""
        per_user: int = getattr(self, f"{surface}_per_user_per_hour")
        per_address: int = getattr(self, f"{surface}_per_address_per_hour")
        return per_user, per_address

    @property
    def is_production(self) -> bool:
        return self.env is Environment.production

    @property
    def api_docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else not self.is_production

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
