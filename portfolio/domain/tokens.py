"""The secrets a person holds to reach the tracker from outside the browser:
the address of their calendar feed and their API tokens. A token is random
(``secrets.token_urlsafe``), shown once when it is made, and kept only as its
SHA-256, so a copy of the database opens nothing."""

from __future__ import annotations

import hashlib
import secrets
from enum import Enum

# 32 random bytes: 43 characters of URL-safe base64, beyond guessing.
TOKEN_BYTES = 32

# The longest token worth hashing: anything longer is no token of ours.
TOKEN_MAX_LENGTH = 200


class Purpose(str, Enum):
    """What a token opens; the value is stored."""

    CALENDAR = "calendar"
    API = "api"

    @property
    def label(self) -> str:
        return {"calendar": "calendar link", "api": "API token"}[self.value]


def new_token() -> str:
    """A fresh token: random, URL-safe (it goes into a calendar address)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What is kept of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def plausible(token: str | None) -> bool:
    """Whether ``token`` could be one of ours (URL-safe characters, a sane
    length): anything else is refused before the database is asked."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        return False
    return all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in token)
