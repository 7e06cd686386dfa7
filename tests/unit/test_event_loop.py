"""Which event loop a process runs on (`EVENT_LOOP`, `runtime.loop_factory`)."""

from __future__ import annotations

import sys

import pytest

from conveyor.config import Settings
from conveyor.errors import StartupError
from conveyor.runtime import loop_factory


def test_auto_is_uvloop_when_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    assert Settings().event_loop == "auto"
    assert loop_factory("auto") is uvloop.new_event_loop
    assert loop_factory("uvloop") is uvloop.new_event_loop


def test_asyncio_is_asyncio_s_own_loop() -> None:
    assert loop_factory("asyncio") is None


def test_without_uvloop_auto_falls_back_and_uvloop_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` raises ImportError
    assert loop_factory("auto") is None
    with pytest.raises(StartupError, match="uvloop is not installed"):
        loop_factory("uvloop")


def test_an_unknown_loop_is_a_settings_error() -> None:
    with pytest.raises(ValueError, match="event_loop"):
        Settings(event_loop="tokio")  # type: ignore[arg-type]
