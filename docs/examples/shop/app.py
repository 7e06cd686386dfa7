"""A FastAPI application that enqueues without HTTP, through the producer API.

    DATABASE_URL=sqlite:///./shop.db uvicorn app:app
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import BaseModel

from conveyor import AsyncQueue
from tasks import pack_order, send_receipt


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with AsyncQueue() as queue:  # DATABASE_URL and the rest from the environment
        app.state.queue = queue
        yield


app = FastAPI(lifespan=lifespan)


class Order(BaseModel):
    id: int
    email: str
    items: int


@app.post("/orders", status_code=202)
async def place_order(order: Order) -> dict[str, str]:
    queue: AsyncQueue = app.state.queue
    receipt = await send_receipt.with_options(
        via=queue, idempotency_key=f"receipt-{order.id}").enqueue_async(
        order.id, order.email, order.items)
    packing = await pack_order.with_options(via=queue, priority=5).enqueue_async(
        order_id=order.id, items=order.items)
    return {"receipt_job": str(receipt.id), "packing_job": str(packing.id)}
