"""`create_app(settings, tasks)`: the ASGI app, HTTP only. What runs behind it (the store, the
event feed, a worker for `conveyor up`) is wired by `conveyor.runtime`."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import Depends, FastAPI

from conveyor import __version__
from conveyor.api import (
    charts,
    dlq,
    jobs,
    keys,
    live,
    queues,
    retention,
    schedules,
    system,
    tenants,
)
from conveyor.api.auth import AuthMiddleware
from conveyor.api.dashboard import mount_dashboard
from conveyor.api.deps import get_admin, require_api_key
from conveyor.api.errors import install_error_handlers
from conveyor.api.fastpath import SubmitFastPath
from conveyor.api.metrics import ApiMetrics
from conveyor.api.middleware import RequestContextMiddleware
from conveyor.api.openapi import DESCRIPTION, AllowedMethodsMiddleware, install_openapi
from conveyor.config import Settings
from conveyor.tasks import TaskRegistry


def create_app(
    settings: Settings,
    tasks: TaskRegistry,
    *,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """HTTP only: routes, middleware, errors, OpenAPI and the dashboard. The lifespan that
    puts a store (`app.state.store`) and an event feed (`app.state.feed`) behind it, and a
    worker beside it, is `conveyor.runtime.build_app`'s."""
    app = FastAPI(
        title="conveyor",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.tasks = tasks
    app.state.started = time.monotonic()
    app.state.metrics = ApiMetrics()
    install_error_handlers(app)
    install_openapi(app)
    # Added first, so they run inside RequestContextMiddleware (trace ids, 413s come first).
    app.add_middleware(AllowedMethodsMiddleware, router=app.router)
    app.add_middleware(SubmitFastPath, state=app.state)
    # Before routing, parameters and bodies: an unauthenticated request is a 401 whatever
    # it holds (`conveyor.api.auth`).
    app.add_middleware(AuthMiddleware, state=app.state, routes=app.router.routes)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    authenticated = [Depends(require_api_key)]
    operators = [*authenticated, Depends(get_admin)]  # operator routes: admin keys only
    app.include_router(system.public_router)
    app.include_router(system.router, dependencies=authenticated)
    app.include_router(charts.router, dependencies=authenticated)
    app.include_router(jobs.router, dependencies=authenticated)
    app.include_router(dlq.router, dependencies=authenticated)
    app.include_router(queues.router, dependencies=authenticated)
    app.include_router(retention.router, dependencies=authenticated)
    app.include_router(schedules.router, dependencies=authenticated)
    app.include_router(keys.router, dependencies=operators)
    app.include_router(tenants.router, dependencies=operators)
    app.include_router(live.router)  # checks the key itself: browsers send it as ?api_key=
    mount_dashboard(app, settings)
    return app
