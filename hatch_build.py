"""The wheel's build hook: ship the built dashboard inside the package, as
`conveyor/dashboard/`, where `conveyor.api.dashboard` looks for it once installed.

A hook rather than a static `force-include`, because hatch applies those to editable
installs too: `pip install -e .` (what `make run` and `make test` do, before the dashboard is
built) would fail without `dashboard/dist`, or copy a stale build into site-packages. A
real wheel without the dashboard is refused: one that serves "not built" at `/` is broken.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class DashboardHook(BuildHookInterface):
    PLUGIN_NAME = "dashboard"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        dist = Path(self.root) / "dashboard" / "dist"
        if not (dist / "index.html").is_file():
            raise FileNotFoundError(
                f"{dist} holds no built dashboard, and a wheel must ship it: run `make "
                "dashboard` (or `cd dashboard && npm ci && npm run build`) first")
        build_data["force_include"][str(dist)] = "conveyor/dashboard"
