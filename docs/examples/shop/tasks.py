"""The shop's tasks: what `conveyor worker --import tasks` runs (from this folder)."""

from __future__ import annotations

from conveyor import JobContext, PermanentError, task


@task("send_receipt", timeout=30)
def send_receipt(order_id: int, email: str, items: int = 1) -> dict[str, object]:
    """A typed task: its payload is `{"order_id": …, "email": …, "items": …}`, checked
    against this signature when it is enqueued, and given back as arguments."""
    if "@" not in email:
        raise PermanentError(f"not an address: {email!r}")  # to the DLQ, no retries
    return {"order": order_id, "sent_to": email}


@task("pack_order")
async def pack_order(context: JobContext, order_id: int, items: int) -> int:
    """A typed task that reports progress (its context comes first, given by the worker)."""
    for packed in range(1, items + 1):
        context.progress(packed / items, f"{packed}/{items} items")
    return items
