"""The reference for the HTTP load case: bare FastAPI + uvicorn, no store.

`python -m bench.bare_api --port N` serves one `POST /jobs` that validates the very body
conveyor's does (`conveyor.wire.SubmitJob`, strict) and answers 201 with the very model
conveyor answers (`conveyor.wire.JobOut`), built in memory; plus `GET /health` so the bench
can wait for it like for `conveyor api`. Using conveyor's own wire models, not copies, keeps
the reference honest as they change: what separates the two figures is then everything else
conveyor does per request (dependencies, middleware, the store's transaction, logging).

uvicorn runs it with the settings `conveyor api` uses (`conveyor.runtime.serve`: no access
log, no log config, lifespan on; loop and HTTP parser left to uvicorn's defaults, which pick
uvloop and httptools when installed, as they are here).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from conveyor.models import JobStatus, new_job_id
from conveyor.wire import HealthOut, JobOut, SubmitJob

app = FastAPI(title="bench: bare FastAPI reference")


@app.post("/jobs", status_code=201, response_model=JobOut)
async def submit_job(body: SubmitJob) -> JobOut:
    """What conveyor's `POST /jobs` answers, without storing anything."""
    now = datetime.now(UTC)
    return JobOut(
        id=new_job_id(), tenant="default", queue=body.queue, task=body.task or "text",
        payload=body.payload if body.payload is not None else {"text": body.text},
        status=JobStatus.PENDING, priority=body.priority, attempts=0,
        max_retries=3 if body.max_retries is None else body.max_retries,
        run_at=now + timedelta(seconds=body.delay_sec), created_at=now, started_at=None,
        finished_at=None, lease_owner=None, lease_expires_at=None, last_error=None,
        result=None, idempotency_key=None, retry_of=None, retried_by=None, trace_id=None,
    )


@app.get("/health", response_model=HealthOut)
async def health() -> HealthOut:
    return HealthOut(status="ok", uptime=0.0)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.bare_api")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_config=None,
                            access_log=False, lifespan="on")
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
