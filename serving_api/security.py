"""Password hashing (Argon2 via pwdlib) and JWTs (PyJWT).

Two kinds of token share the signing key but never each other's audience:
access tokens (Bearer, for the API) and upload tokens (embedded in the URL a
client PUTs bytes to when the object store cannot presign one).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from pipeline.db.models import MAX_ID
from pipeline.settings import Settings

ACCESS_AUDIENCE = "videoai:access"
# The web app keeps the access token in this cookie (HttpOnly, SameSite=Strict): never in a URL or in script.
SESSION_COOKIE = "videoai_session"
UPLOAD_AUDIENCE = "videoai:upload"
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "aud"]
_USER_ID = re.compile(r"^[1-9][0-9]{0,9}$")
_JTI_MAX_LENGTH = 64  # the revocation table's column

password_hash = PasswordHash((Argon2Hasher(),))


@cache
def _dummy_hash() -> str:
    return password_hash.hash("timing-equalizer-not-a-password")


def hash_password(password: str) -> str:
    return password_hash.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    """Check a password; with no account (`hashed` None) still spend a hash's time,
    so response timing does not reveal which emails are registered."""
    if hashed is None:
        password_hash.verify(password, _dummy_hash())
        return False
    return password_hash.verify(password, hashed)


def signing_key(settings: Settings) -> str:
    """The configured JWT secret, or one generated once and kept in VIDEOAI_HOME.

    A random per-installation secret is the safe embedded default: nothing
    guessable ships in code, and tokens survive restarts.
    """
    if settings.auth.jwt_secret is not None and settings.auth.jwt_secret.get_secret_value():
        return settings.auth.jwt_secret.get_secret_value()
    path = settings.videoai_home / "jwt_secret"
    if not path.exists():
        _write_private_once(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def _write_private_once(path: Path, text: str) -> None:
    """Write a secret owner-only (0600) from its first byte, whole or not at all: a temp file is
    written and linked into place, so a process starting beside this one reads the one secret that
    won, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        os.unlink(temp)


@dataclass(frozen=True)
class TokenClaims:
    subject: str  # a user id: digits, within the id columns (checked when decoded)
    jti: str
    issued_at: datetime
    expires_at: datetime
    extra: dict

    @property
    def user_id(self) -> int:
        return int(self.subject)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


def _issue(settings: Settings, subject: str, audience: str, lifetime: timedelta, **extra: object) -> IssuedToken:
    now = datetime.now(UTC)
    jti = uuid.uuid4().hex
    expires_at = now + lifetime
    claims = {"sub": subject, "aud": audience, "iat": now, "exp": expires_at, "jti": jti, **extra}
    token = jwt.encode(claims, signing_key(settings), algorithm=settings.auth.jwt_algorithm)
    return IssuedToken(token, jti, expires_at)


def _decode(settings: Settings, token: str, audience: str) -> TokenClaims:
    """Verify signature, audience and expiry; raises jwt.InvalidTokenError.

    The algorithm list is pinned to the configured one: a token signed with
    another algorithm, or `alg: none`, is rejected whatever its header says.
    """
    claims = jwt.decode(
        token,
        signing_key(settings),
        algorithms=[settings.auth.jwt_algorithm],
        audience=audience,
        options={"require": _REQUIRED_CLAIMS},
    )
    known = {"sub", "aud", "iat", "exp", "jti"}
    # A validly signed token is still only trusted as far as its claims parse: a subject that is
    # no user id, or times out of range, is as invalid as a bad signature (401, never a 500).
    subject, jti = claims["sub"], claims["jti"]
    if not (isinstance(subject, str) and _USER_ID.match(subject) and int(subject) <= MAX_ID):
        raise jwt.InvalidTokenError("the subject is not a user id")
    if not (isinstance(jti, str) and 0 < len(jti) <= _JTI_MAX_LENGTH):
        raise jwt.InvalidTokenError("the token id is invalid")
    try:
        issued_at = datetime.fromtimestamp(claims["iat"], UTC)
        expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise jwt.InvalidTokenError("the token's times are out of range") from None
    return TokenClaims(
        subject=subject,
        jti=jti,
        issued_at=issued_at,
        expires_at=expires_at,
        extra={k: v for k, v in claims.items() if k not in known},
    )


def create_access_token(settings: Settings, user_id: int) -> IssuedToken:
    return _issue(settings, str(user_id), ACCESS_AUDIENCE, timedelta(minutes=settings.auth.access_token_minutes))


def decode_access_token(settings: Settings, token: str) -> TokenClaims:
    return _decode(settings, token, ACCESS_AUDIENCE)


def create_upload_token(settings: Settings, user_id: int, upload_id: str) -> IssuedToken:
    return _issue(
        settings, str(user_id), UPLOAD_AUDIENCE, timedelta(seconds=settings.storage.presign_seconds), upload_id=upload_id
    )


def decode_upload_token(settings: Settings, token: str) -> TokenClaims:
    return _decode(settings, token, UPLOAD_AUDIENCE)


def csrf_token(settings: Settings, claims: TokenClaims) -> str:
    """The CSRF token of a web session: bound to its access token's id, so it dies with the session."""
    return hmac.new(signing_key(settings).encode(), f"csrf:{claims.jti}".encode(), hashlib.sha256).hexdigest()


def csrf_matches(settings: Settings, claims: TokenClaims, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(settings, claims), presented or "")
