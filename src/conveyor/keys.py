"""API keys and who a request acts as.

`API_KEY` is the one admin key of SEED.md (set in the environment, never stored). Beside it,
keys made with `conveyor keys create` or `POST /keys` belong to a tenant (roles `tenant` and
`readonly`) or to no tenant (`admin`). A key reads `cvk_<id>_<secret>`: the id is public
(listed, logged, the store's primary key, so a lookup is one index probe and never a scan),
the secret is 32 random bytes. The store keeps only the SHA-256 of the whole key: a key is
random, not a password, so a slow hash would add nothing but cost; a stolen table cannot be
turned back into keys. Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Role = Literal["admin", "tenant", "readonly"]
ROLES: tuple[Role, ...] = ("admin", "tenant", "readonly")

_KEY = re.compile(r"^cvk_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: everything but the key itself."""

    id: str
    hash: str
    role: Role
    tenant: str | None
    """The tenant a `tenant` or `readonly` key acts for; None for an `admin` key."""
    name: str | None
    created_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: an admin (every tenant), or one tenant, read-write or
    read-only. With auth off (no API_KEY) every request is an admin, as in SEED.md."""

    role: Role
    tenant: str | None = None
    key_id: str | None = None

    @property
    def admin(self) -> bool:
        return self.role == "admin"

    @property
    def writes(self) -> bool:
        return self.role != "readonly"

    def sees(self, tenant: str) -> bool:
        """Whether `tenant`'s data is this principal's to see."""
        return self.tenant is None or self.tenant == tenant


ADMIN = Principal("admin")


def new_key(role: Role, tenant: str | None, name: str | None) -> tuple[str, ApiKey]:
    """A new random key (shown once) and the record the store keeps of it."""
    key_id = secrets.token_hex(6)
    plaintext = f"cvk_{key_id}_{secrets.token_urlsafe(32)}"
    return plaintext, ApiKey(key_id, digest(plaintext), role,
                             None if role == "admin" else tenant, name)


def key_id_of(given: str) -> str | None:
    """The id of a well-formed key, or None (then it is no key of ours)."""
    match = _KEY.match(given)
    return match.group(1) if match else None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def matches(record: ApiKey, given: str) -> bool:
    """Constant-time: whether `given` is the key `record` was made from."""
    return hmac.compare_digest(record.hash, digest(given))
