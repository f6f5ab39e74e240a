"""Console passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's low-memory profile),
generated passwords, and what a chosen one must be."""

from __future__ import annotations

import functools
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; this bounds the work one request can ask for
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{1,63}")

_hasher = PasswordHasher()


@functools.cache
def _dummy() -> str:
    """Verified when the email is unknown, so that a sign-in takes as long whether or not the
    user exists (no enumeration by timing)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate() -> str:
    """20 characters from the URL-safe alphabet: 120 random bits, easy to copy from a terminal."""
    return secrets.token_urlsafe(15)


def check_new(password: str) -> str | None:
    """Why a chosen password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password has at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    return None


def normal_email(email: str) -> str | None:
    """The email as stored (trimmed, lower-cased), or None when it is not an email address."""
    e = email.strip().lower()
    return e if EMAIL.fullmatch(e) else None
