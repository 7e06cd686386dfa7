"""Per-tenant settings on the submit side: the checks of a tenant's overrides, and the one
place where a submit's rate limit is decided (`TenantRates`).

A tenant's `rate_per_minute` (set with `PUT /tenants/{name}` or `conveyor tenants set`)
replaces RATE_LIMIT_PER_MINUTE for its submits. The buckets live in the store already; the
limit is read from the store's `tenants` table too, so every API process and producer
agrees, through a cache of every override that is at most `TENANT_SETTINGS_TTL_SEC` old: a
changed limit applies everywhere within that time, and a submit costs no extra round trip
(one in every few seconds refreshes the cache).
"""

from __future__ import annotations

import asyncio
import time
import weakref

from conveyor.errors import InvalidSubmission
from conveyor.models import RateLimit
from conveyor.store.base import Store, TenantSettings
from conveyor.wire import MAX_TENANT_RATE, MAX_TENANT_RUNNING, MAX_TENANT_WEIGHT

TENANT_SETTINGS_TTL_SEC = 5.0
"""How old a process's copy of the tenants' rate limits may be."""


def check_tenant_settings(settings: TenantSettings) -> None:
    """`InvalidSubmission` for a setting out of its range (the API checks the same bounds)."""
    bounds = (("weight", settings.weight, 1, MAX_TENANT_WEIGHT),
              ("max_running", settings.max_running, 0, MAX_TENANT_RUNNING),
              ("rate_per_minute", settings.rate_per_minute, 0, MAX_TENANT_RATE))
    for name, value, low, high in bounds:
        if value is not None and (type(value) is not int or not low <= value <= high):
            raise InvalidSubmission(f"`{name}` must be a whole number from {low} to {high}")


class TenantRates:
    """The rate limit of each tenant's submits: its override, else the default.

    One per store (`for_store`): the API's routes and fast path, and the producer, share it.
    The cache holds every override at once (the table holds only tenants with a setting),
    refreshed by the first submit after it is `ttl_sec` old; concurrent submits wait for
    that one read rather than each making their own."""

    def __init__(self, ttl_sec: float = TENANT_SETTINGS_TTL_SEC) -> None:
        self.ttl_sec = ttl_sec
        self._rates: dict[str, int] = {}
        self._read_at = float("-inf")
        self._refresh: asyncio.Lock | None = None

    async def rate_for(
        self, store: Store, tenant: str, default_per_minute: int
    ) -> RateLimit | None:
        """The tenant's limit as the store takes it (None: no limit)."""
        if time.monotonic() - self._read_at >= self.ttl_sec:
            await self._reload(store)
        per_minute = self._rates.get(tenant, default_per_minute)
        return RateLimit(per_minute) if per_minute else None  # 0: no limit

    async def _reload(self, store: Store) -> None:
        if self._refresh is None:
            self._refresh = asyncio.Lock()
        async with self._refresh:
            if time.monotonic() - self._read_at < self.ttl_sec:
                return  # another submit reloaded it while this one waited
            started = time.monotonic()
            settings = await store.tenant_settings()
            self._rates = {name: s.rate_per_minute for name, s in settings.items()
                           if s.rate_per_minute is not None}
            self._read_at = started

    def forget(self) -> None:
        """Read the overrides again on the next submit (after this process changed one)."""
        self._read_at = float("-inf")


_BY_STORE: weakref.WeakKeyDictionary[Store, TenantRates] = weakref.WeakKeyDictionary()


def for_store(store: Store) -> TenantRates:
    """The rates cache of `store`: one per open store, so a process with several stores (the
    tests) keeps their tenants apart."""
    rates = _BY_STORE.get(store)
    if rates is None:
        rates = _BY_STORE[store] = TenantRates()
    return rates


async def rate_for(store: Store, tenant: str, default_per_minute: int) -> RateLimit | None:
    """A submit's rate limit: the tenant's `rate_per_minute`, else RATE_LIMIT_PER_MINUTE
    (`default_per_minute`; 0 is no limit, for either)."""
    return await for_store(store).rate_for(store, tenant, default_per_minute)
