"""Password hashing, opaque tokens, signed access tokens and field encryption."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from clinicflow.core import clock

JWT_ALGORITHM = "HS256"
_hasher = PasswordHasher()
# Verifying against this when the account does not exist makes a wrong email cost the same
# time as a wrong password, so timing does not reveal which accounts exist.
_dummy_hash = _hasher.hash(secrets.token_urlsafe(16))


def configure_password_hashing(*, time_cost: int, memory_kib: int) -> None:
    """Set the argon2 cost for this process; existing hashes are upgraded at their next login."""
    global _hasher, _dummy_hash
    if (_hasher.time_cost, _hasher.memory_cost) == (time_cost, memory_kib):
        return
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    """Hashing takes a deliberate ~0.1 s of CPU: done in a thread so the event loop keeps serving."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await asyncio.to_thread(_verify, password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Refresh and session tokens carry 256 random bits, so a fast hash is enough at rest."""
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_hash(secret: str, *parts: str) -> str:
    """HMAC for low-entropy secrets (a 6-digit code): useless without the server key."""
    message = "\x1f".join(parts).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_numeric_code(digits: int = 6) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    role: str
    expires_at: datetime


def encode_access_token(
    *, secret: str, user_id: uuid.UUID, session_id: uuid.UUID, role: str, minutes: int
) -> str:
    issued = clock.now()
    payload = {
        "sub": str(user_id),
        "sid": str(session_id),
        "role": role,
        "typ": "access",
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(minutes=minutes)).timestamp()),
    }
    return jwt.encode(payload, secret, algorithm=JWT_ALGORITHM)


# Tokens whose signature this process checked, with their claims: a client sends the same
# token with every request for its 15 minutes, and checking the signature (PyJWT) was a tenth
# of a held read's time. Keyed by token and secret, so a token is never believed under
# another secret; expiry is still checked on every use.
_CHECKED: dict[tuple[str, str], AccessClaims] = {}
_CHECKED_SIZE = 10_000


def decode_access_token(token: str, *, secret: str) -> AccessClaims | None:
    """None for anything that is not a current access token we signed."""
    claims = _CHECKED.get((token, secret))
    if claims is None:
        claims = _signed_claims(token, secret)
        if claims is None:
            return None
        if len(_CHECKED) >= _CHECKED_SIZE:
            _CHECKED.clear()
        _CHECKED[(token, secret)] = claims
    # Expiry is checked against the injectable clock, not the wall clock, so tests can move time.
    return claims if claims.expires_at > clock.now() else None


def _signed_claims(token: str, secret: str) -> AccessClaims | None:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "sid"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        return None
    if payload.get("typ") != "access":
        return None
    try:
        return AccessClaims(
            user_id=uuid.UUID(payload["sub"]),
            session_id=uuid.UUID(payload["sid"]),
            role=str(payload.get("role", "")),
            expires_at=datetime.fromtimestamp(payload["exp"], tz=UTC),
        )
    except (ValueError, TypeError, OverflowError, OSError):
        return None


# --- field encryption ------------------------------------------------------------------------

FIELD_KEY_INFO = b"clinicflow field encryption v1"
_field_cipher: MultiFernet | None = None


def derive_field_key(secret_key: str) -> str:
    """The Fernet key used when no field keys are configured.

    Derived from the secret key (HKDF-SHA256), so a fresh install encrypts at rest with no
    setup; an operator moving to explicit keys lists this one after the new key, so rows
    written before the move still decrypt.
    """
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=FIELD_KEY_INFO).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw).decode()


def configure_field_encryption(*, keys: Sequence[str], secret_key: str) -> None:
    """Set this process's keys for encrypted columns and files.

    The first key encrypts and every key decrypts, so rotation is: put the new key first,
    keep the old one after it until every row has been rewritten. With no keys, one is
    derived from the secret key.
    """
    global _field_cipher
    chosen = list(keys) or [derive_field_key(secret_key)]
    try:
        fernets = [Fernet(key) for key in chosen]
    except ValueError:
        # Name the setting, never the key: this message may reach a log.
        raise ValueError(
            "field_encryption_keys must be Fernet keys (32 bytes, url-safe base64)"
        ) from None
    _field_cipher = MultiFernet(fernets)


def field_encryption_configured() -> bool:
    """Whether this process has its field keys yet (a migration that rewrites clinical text
    configures them from the settings when its command did not)."""
    return _field_cipher is not None


def _cipher() -> MultiFernet:
    if _field_cipher is None:
        raise RuntimeError("field encryption is not configured; build_runtime configures it")
    return _field_cipher


def encrypt_bytes(data: bytes) -> bytes:
    return _cipher().encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    """Raises `cryptography.fernet.InvalidToken` when no configured key opens the token:
    a lost or misconfigured key must fail loudly, never return garbage."""
    return _cipher().decrypt(token)


def encrypt_text(value: str) -> str:
    return encrypt_bytes(value.encode()).decode("ascii")


def decrypt_text(token: str) -> str:
    return decrypt_bytes(token.encode("ascii")).decode()


class EncryptedText(TypeDecorator[str]):
    """Text encrypted at rest (Fernet), in the clear only inside the process.

    A database dump or backup then holds no clinical text. Each write gets a fresh IV, so
    an encrypted column can be neither searched nor indexed by its content, and it takes
    about 4/3 of the text's size plus 100 bytes.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt_text(value)
