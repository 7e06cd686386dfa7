"""Serves the built dashboard: `index.html` never cached (with runtime config injected),
hashed `/assets/*` cached forever, and client-side routes falling back to `index.html`."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from conveyor import __version__
from conveyor.config import Settings

CONFIG_TAG = '<script id="conveyor-config" type="application/json">{}</script>'


PACKAGED = Path(__file__).resolve().parents[1] / "dashboard"
"""Where the wheel ships the built dashboard (`conveyor/dashboard/`, see `hatch_build.py`)."""
CHECKOUT = Path(__file__).resolve().parents[3] / "dashboard" / "dist"
"""Where `npm run build` puts it in a checkout (`src/conveyor/api/` is three levels down)."""


def find_dashboard(settings: Settings) -> Path | None:
    """DASHBOARD_DIR if set; else the copy inside the installed package, else the checkout's
    build. Never the working directory's `dashboard/dist`: run from another project's
    folder, conveyor would serve that project's build as its own."""
    candidates = [settings.dashboard_dir] if settings.dashboard_dir else [PACKAGED, CHECKOUT]
    for candidate in candidates:
        if (candidate / "index.html").is_file():
            return candidate
    return None


class ImmutableStaticFiles(StaticFiles):
    """Vite puts a content hash in every asset name, so an asset never changes."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def mount_dashboard(app: FastAPI, settings: Settings) -> None:
    root = find_dashboard(settings)
    if root is None:
        @app.get("/", include_in_schema=False)
        async def not_built() -> HTMLResponse:
            return HTMLResponse(
                "<!doctype html><title>conveyor</title><h1>conveyor</h1>"
                "<p>The dashboard is not built. Run <code>make run</code>, or "
                "<code>cd dashboard &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>"
                '<p>The API is up: see <a href="/docs">/docs</a>.</p>'
            )
        return

    config = json.dumps({"apiKeyRequired": settings.api_key is not None,
                         "version": __version__})
    index = (root / "index.html").read_text("utf-8").replace(
        CONFIG_TAG, CONFIG_TAG.replace("{}", config.replace("</", "<\\/"))
    )
    no_cache = {"Cache-Control": "no-cache"}

    if (root / "assets").is_dir():
        app.mount("/assets", ImmutableStaticFiles(directory=root / "assets"), name="assets")

    @app.get("/", include_in_schema=False)
    async def dashboard_index() -> HTMLResponse:
        return HTMLResponse(index, headers=no_cache)

    @app.get("/{path:path}", include_in_schema=False)
    async def dashboard_file(path: str, request: Request) -> Response:
        candidate = (root / path).resolve()
        if candidate.is_file() and candidate.is_relative_to(root.resolve()):
            return FileResponse(candidate, headers=no_cache)
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(index, headers=no_cache)
        from conveyor.api.errors import error_response

        return error_response(404, "not_found", f"no route for /{path}")
