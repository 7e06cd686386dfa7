"""`create_app(settings)`: the ASGI app. Its lifespan opens the store, starts the event feed
and, for `conveyor up`, a worker in the same process."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from conveyor import __version__
from conveyor.api import jobs, live, system
from conveyor.api.dashboard import mount_dashboard
from conveyor.api.deps import require_api_key
from conveyor.api.errors import install_error_handlers
from conveyor.api.metrics import ApiMetrics
from conveyor.api.middleware import RequestContextMiddleware
from conveyor.config import Settings
from conveyor.logging import get_logger
from conveyor.store import connect_store_patiently
from conveyor.store.base import Store
from conveyor.worker import Worker

log = get_logger("conveyor.api")


def _report_worker_exit(task: asyncio.Task[None]) -> None:
    """A worker that dies inside `conveyor up` must not go unnoticed while the API still
    accepts jobs: log it loudly and stop the process so a supervisor restarts it."""
    if task.cancelled() or task.exception() is None:
        return
    log.error("worker_crashed", exc_info=task.exception(),
              message="the in-process worker died; stopping")
    os.kill(os.getpid(), signal.SIGTERM)


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    run_worker: bool = False,
    worker_queues: Sequence[str] = ("default",),
) -> FastAPI:
    """With `store`, the app uses it and leaves closing it to the caller (tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store = store is None
        app.state.store = (
            await connect_store_patiently(settings.database_url) if own_store else store
        )
        app.state.feed = live.EventFeed(app.state.store, app.state.metrics)
        await app.state.feed.start()
        worker: Worker | None = None
        worker_task: asyncio.Task[None] | None = None
        if run_worker:
            worker = Worker(app.state.store, settings, queues=worker_queues)
            worker_task = asyncio.create_task(worker.run(), name="conveyor-worker")
            worker_task.add_done_callback(_report_worker_exit)
        app.state.worker = worker
        log.info("api_start", message=f"API running at http://{settings.host}:{settings.port}"
                 " (WebSocket: /ws)", worker=worker.id if worker else None)
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                worker.stop()
                try:
                    await worker_task
                except Exception as exc:  # logged; the API's own cleanup must still run
                    log.error("worker_crashed", exc_info=exc)
            await app.state.feed.stop()
            if own_store:
                await app.state.store.close()
            log.info("api_stop")

    app = FastAPI(
        title="conveyor",
        version=__version__,
        description="A distributed task queue and job processor.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.started = time.monotonic()
    app.state.metrics = ApiMetrics()
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    authenticated = [Depends(require_api_key)]
    app.include_router(system.public_router)
    app.include_router(system.router, dependencies=authenticated)
    app.include_router(jobs.router, dependencies=authenticated)
    app.include_router(live.router)  # checks the key itself: browsers send it as ?api_key=
    mount_dashboard(app, settings)
    return app
