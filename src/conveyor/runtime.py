"""The wiring of conveyor's processes, in one place: which tasks a process knows, and what
`conveyor up`, `conveyor api` and `conveyor worker` start (store, live event feed, worker,
HTTP app) and stop, in which order. What could stop them from starting is checked first
(`conveyor.startup`), so it is said in one line rather than in a traceback.

The engine (`store`, `worker`, `api`) takes all of these as arguments and imports none of
this module; the CLI and tests start processes through it. It is also the only place that
registers the built-in `text` task.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from types import ModuleType

from fastapi import FastAPI

from conveyor.api.app import create_app
from conveyor.api.live import EventFeed
from conveyor.builtin_tasks import text_task
from conveyor.config import EventLoop, Settings
from conveyor.errors import StartupError
from conveyor.logging import get_logger
from conveyor.startup import WAIT_FOR_DATABASE_SEC, bind, check_database_url, open_store
from conveyor.store import connect_store_patiently
from conveyor.store.base import Store
from conveyor.tasks import TaskRegistry
from conveyor.worker import Worker

log = get_logger("conveyor.runtime")


def build_registry(settings: Settings, modules: Sequence[str | ModuleType] = ()) -> TaskRegistry:
    """The built-in `text` task (with TEXT_SECONDS_PER_CHAR) and every `@task` of `modules`
    (a module's task of the same name replaces the built-in)."""
    registry = TaskRegistry([text_task(settings.text_seconds_per_char)])
    registry.include(*modules)
    return registry


def _report_worker_exit(task: asyncio.Task[None]) -> None:
    """A worker that dies inside `conveyor up` must not go unnoticed while the API still
    accepts jobs: log it loudly and stop the process so a supervisor restarts it."""
    if task.cancelled() or task.exception() is None:
        return
    log.error("worker_crashed", exc_info=task.exception(),
              message="the in-process worker died; stopping")
    os.kill(os.getpid(), signal.SIGTERM)


def build_app(
    settings: Settings,
    tasks: TaskRegistry,
    *,
    store: Store | None = None,
    close_store: bool = False,
    run_worker: bool = False,
    worker_queues: Sequence[str] = ("default",),
) -> FastAPI:
    """The API process (`conveyor api`), or with `run_worker` the API and a worker in one
    process (`conveyor up`). Its lifespan opens the store (or uses `store`, whose closing is
    left to the caller unless `close_store`), starts the event feed and the worker, and stops
    them in reverse."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store = store is None or close_store
        opened = store if store is not None else await connect_store_patiently(
            settings.database_url)
        opened.call_timeout = settings.store_timeout_sec
        app.state.store = opened
        app.state.feed = EventFeed(opened, app.state.metrics)
        await app.state.feed.start()
        worker: Worker | None = None
        worker_task: asyncio.Task[None] | None = None
        if run_worker:
            worker = Worker(opened, settings, tasks, queues=worker_queues)
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
                await opened.close()
            log.info("api_stop")

    return create_app(settings, tasks, lifespan=lifespan)


def serve(settings: Settings, tasks: TaskRegistry, *, run_worker: bool,
          queues: Sequence[str], wait_for_database: float = WAIT_FOR_DATABASE_SEC) -> None:
    """Run the API (and for `conveyor up` a worker) under uvicorn until SIGTERM/SIGINT.

    Before uvicorn starts: the URL is checked, the port taken and the store opened (waiting
    up to `wait_for_database` seconds for it), each failure a `StartupError`. Inside
    uvicorn's lifespan a failure would be a traceback, and a port in use would be found only
    after the store was opened and migrated."""
    check_database_url(settings.database_url)
    with (bind(settings.host, settings.port) as sock,
          asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner):
        runner.run(_serve(settings, tasks, sock, run_worker=run_worker, queues=queues,
                          wait_for_database=wait_for_database))


async def _serve(settings: Settings, tasks: TaskRegistry, sock: socket.socket, *,
                 run_worker: bool, queues: Sequence[str], wait_for_database: float) -> None:
    import uvicorn

    store = await open_store(settings.database_url, wait_for_database)
    # The lifespan closes the store: uvicorn re-raises a caught SIGTERM as soon as it stops,
    # so nothing after `serve` would run.
    app = build_app(settings, tasks, store=store, close_store=True, run_worker=run_worker,
                    worker_queues=queues)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=None,
                            access_log=False, lifespan="on", ws_ping_interval=20,
                            timeout_graceful_shutdown=max(5, int(settings.shutdown_grace_sec) + 5))
    freeze_startup_objects()
    await uvicorn.Server(config).serve(sockets=[sock])


def loop_factory(choice: EventLoop) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop of a process (`EVENT_LOOP`), None for asyncio's own. `auto`: uvloop
    when installed (it comes with `uvicorn[standard]`), as uvicorn's own default
    `loop="auto"` picks; `serve` runs the loop itself, to open the store before uvicorn. A
    worker on uvloop drained no-op jobs 3-9 % faster and ran 10 ms jobs at 96-97 % of its
    slots' ceiling instead of 93 % (bench/README, "Workers on uvloop")."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise StartupError("EVENT_LOOP=uvloop, but uvloop is not installed "
                               "(pip install uvloop, or EVENT_LOOP=auto)") from None
        return None
    return uvloop.new_event_loop


def freeze_startup_objects() -> None:
    """Leave what the process built at startup (modules, the app, its routes and models: tens
    of thousands of objects that live as long as the process) out of garbage collection.
    Otherwise every full collection walks them all: under load it paused the event loop for
    up to 80 ms every second or so, which alone set `POST /jobs`'s p99; frozen, the pauses
    are about 2 ms. Called once by a process's entry point, never by tests."""
    gc.collect()
    gc.freeze()


def run_worker(settings: Settings, tasks: TaskRegistry, queues: Sequence[str], *,
               wait_for_database: float = WAIT_FOR_DATABASE_SEC) -> None:
    """A worker process (`conveyor worker`) on the event loop `EVENT_LOOP` picks, as the
    API's: SIGTERM or SIGINT starts its two-stage stop. A bad URL or a database still
    unreachable after `wait_for_database` seconds is a `StartupError`."""
    check_database_url(settings.database_url)
    with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner:
        runner.run(_work(settings, tasks, queues, wait_for_database))


async def _work(settings: Settings, tasks: TaskRegistry, queues: Sequence[str],
                wait_for_database: float) -> None:
    store = await open_store(settings.database_url, wait_for_database)
    store.call_timeout = settings.store_timeout_sec
    try:
        worker = Worker(store, settings, tasks, queues=queues)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        freeze_startup_objects()
        await worker.run()
    finally:
        # Bounded: in an outage, closing can wait for connection attempts into the cut network.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await store.close()
