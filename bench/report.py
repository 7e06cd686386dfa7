"""`python -m bench.report bench/results/FILE.json [...]`: the table of earlier runs again.

Several files are merged, so runs made separately (say, SQLite and PostgreSQL at different
times) give one table, with the median over all their runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.results import Collector, Measurement


def main(argv: list[str] | None = None) -> int:
    paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    collector = Collector()
    stores: list[str] = []
    for path in paths:
        document = json.loads(path.read_text())
        for item in document["measurements"]:
            collector.measurements.append(Measurement(**item))
            if item["store"] not in stores:
                stores.append(item["store"])
        collector.notes += document.get("notes", [])
    print(collector.table(stores))
    for note in collector.notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
