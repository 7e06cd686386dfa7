"""mypy --strict checks a typed task's `enqueue` against the task's own signature (without a
leading `JobContext` parameter, which the worker gives): the calls marked `# error` below must
be reported, and only those."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import REPO

pytestmark = pytest.mark.slow

SNIPPET = '''
from typing import Any

from conveyor import JobContext, task


@task("send_email")
def send_email(to: str, subject: str = "") -> dict[str, Any]:
    return {}


@task("export")
def export(payload: dict[str, Any], context: JobContext) -> None:
    return None


@task
async def count(context: JobContext, n: int) -> int:
    return n


def calls() -> None:
    send_email.enqueue("a@b.c", subject="hi")
    send_email.with_options(queue="mail", priority=2).enqueue(to="x")
    export.enqueue({"rows": 1})
    result: dict[str, Any] = send_email("direct")
    send_email.enqueue(to=1)  # error
    send_email.enqueue(recipient="x")  # error
    wrong: int = send_email("direct")  # error


async def async_calls() -> None:
    await send_email.enqueue_async("a@b.c")
    await count.enqueue_async(3)
    await count.enqueue_async("3")  # error
    await count.enqueue_async(3, None)  # error: the context is the worker's to give
'''


def test_enqueue_is_checked_against_the_signature(tmp_path: Path) -> None:
    source = tmp_path / "typed_tasks.py"
    source.write_text(SNIPPET)
    expected = {number for number, line in enumerate(SNIPPET.splitlines(), 1)
                if "# error" in line}
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file", "",
         "--follow-imports=silent", str(source)],
        capture_output=True, text=True, cwd=REPO, env={"MYPYPATH": str(REPO / "src"),
                                                      "PATH": "/usr/bin:/bin"},
    )
    reported = {int(line.split(":")[1]) for line in result.stdout.splitlines()
                if line.startswith(str(source)) and ": error:" in line}
    assert reported == expected, result.stdout
