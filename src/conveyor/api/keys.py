"""Routes for API keys (admin keys only): make one (its key is shown once), list them,
revoke one. Only each key's hash is stored (`conveyor.keys`); a revoked key stops working on
every API process within `auth.CACHE_SEC`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from conveyor.api.deps import StoreDep
from conveyor.api.openapi import errors
from conveyor.keys import ApiKey, new_key
from conveyor.logging import get_logger
from conveyor.wire import KeyCreatedOut, KeyIn, KeyOut, KeysOut

log = get_logger("conveyor.api")
router = APIRouter(tags=["keys"])

KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="The key's public id.")]


def _out(key: ApiKey) -> KeyOut:
    return KeyOut(id=key.id, role=key.role, tenant=key.tenant, name=key.name,
                  created_at=key.created_at, revoked_at=key.revoked_at)


@router.post("/keys", status_code=201, response_model=KeyCreatedOut, responses=errors(503))
async def create_key(body: KeyIn, store: StoreDep) -> KeyCreatedOut:
    """Make a key. The answer holds the key itself, the only time it is shown."""
    if body.role != "admin" and body.tenant is None:
        raise HTTPException(422, f"a `{body.role}` key needs a tenant")
    if body.role == "admin" and body.tenant is not None:
        raise HTTPException(422, "an `admin` key belongs to no tenant: leave `tenant` out")
    plaintext, record = new_key(body.role, body.tenant, body.name)
    stored = await store.create_key(record)
    log.info("key_created", key=stored.id, role=stored.role, tenant=stored.tenant)
    return KeyCreatedOut(**_out(stored).model_dump(), key=plaintext)


@router.get("/keys", response_model=KeysOut, responses=errors(503))
async def list_keys(store: StoreDep) -> KeysOut:
    """Every key, oldest first, revoked ones included (never the keys themselves)."""
    return KeysOut(keys=[_out(key) for key in await store.list_keys()])


@router.delete("/keys/{key_id}", response_model=KeyOut, responses=errors(404, 503))
async def revoke_key(key_id: KeyId, store: StoreDep) -> KeyOut:
    """Revoke a key: within seconds no API process accepts it. Revoking twice keeps the
    first time."""
    revoked = await store.revoke_key(key_id)
    log.info("key_revoked", key=key_id)
    return _out(revoked)
