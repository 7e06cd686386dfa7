"""A plain script: enqueue, then wait for the result.

    DATABASE_URL=sqlite:///./shop.db python script.py
"""

from __future__ import annotations

import time

from conveyor import Queue
from conveyor.lifecycle import TERMINAL_STATUSES
from tasks import send_receipt

with Queue() as queue:
    job = send_receipt.with_options(via=queue).enqueue(order_id=42, email="ada@example.com")
    deadline = time.monotonic() + 30
    while (job := queue.get(job.id)).status not in TERMINAL_STATUSES:
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job.id} still {job.status.value}")
        time.sleep(0.1)
    print(job.status.value, job.result)
