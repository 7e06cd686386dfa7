"""Measurements, their medians over runs, the printed table and the JSON file."""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DISTURBED = 0.10
"""A case during which more than this fraction of the machine's CPU went to processes the
benchmark did not start (tests, builds) is flagged: its figure is likely low."""


@dataclass
class Measurement:
    """One figure from one run. `key` orders and identifies the benchmark across runs;
    `details` keeps what explains the figure (counts, CPU seconds, percentiles…)."""

    key: str
    label: str
    store: str
    value: float
    unit: str
    details: dict[str, Any] = field(default_factory=dict)
    higher_is_better: bool = True


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _format(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if unit == "ms":
        return f"{value:.2f}" if value < 10 else f"{value:.1f}"
    if unit == "%" or unit == "MiB":
        return f"{value:.1f}"
    if unit == "x":  # a ratio of two figures
        return f"{value:.2f}"
    return f"{value:,.0f}"


class Collector:
    def __init__(self) -> None:
        self.measurements: list[Measurement] = []
        self.notes: list[str] = []

    def add(self, measurement: Measurement) -> None:
        self.measurements.append(measurement)
        other = measurement.details.get("cpu_seconds", {}).get("other_fraction", 0.0)
        flag = ""
        if other > DISTURBED:
            flag = f"  (disturbed: {other:.0%} of the CPU went to other processes)"
            self.notes.append(f"{measurement.store} {measurement.label.strip()}: {flag[3:-1]}")
        print(
            f"  {measurement.store:8} {measurement.label:52} "
            f"{_format(measurement.value, measurement.unit):>10} {measurement.unit}{flag}",
            flush=True,
        )

    def summary(self) -> list[dict[str, Any]]:
        """One row per (benchmark, store): median of runs, min and max, all values."""
        groups: dict[tuple[str, str], list[Measurement]] = {}
        for m in self.measurements:
            groups.setdefault((m.key, m.store), []).append(m)
        rows = []
        for (key, store), items in groups.items():
            values = [m.value for m in items if not math.isnan(m.value)]
            rows.append({
                "key": key,
                "label": items[0].label,
                "store": store,
                "unit": items[0].unit,
                "median": statistics.median(values) if values else math.nan,
                "min": min(values) if values else math.nan,
                "max": max(values) if values else math.nan,
                "runs": len(items),
                "values": [m.value for m in items],
            })
        return rows

    def table(self, stores: Sequence[str]) -> str:
        """Markdown: one row per benchmark, one column per store, `median (min-max)`."""
        rows = self.summary()
        order: list[str] = []
        labels: dict[str, tuple[str, str]] = {}
        for m in self.measurements:
            if m.key not in labels:
                order.append(m.key)
                labels[m.key] = (m.label, m.unit)
        cells = {(row["key"], row["store"]): row for row in rows}
        lines = [
            "| benchmark | unit | " + " | ".join(stores) + " |",
            "|---|---|" + "---:|" * len(stores),
        ]
        for key in order:
            label, unit = labels[key]
            out = []
            for store in stores:
                row = cells.get((key, store))
                if row is None:
                    out.append("-")
                elif row["runs"] == 1 or math.isnan(row["median"]):  # n/a: no range
                    out.append(_format(row["median"], unit))
                else:
                    out.append(
                        f"{_format(row['median'], unit)} "
                        f"({_format(row['min'], unit)}-{_format(row['max'], unit)})"
                    )
            lines.append(f"| {label} | {unit} | " + " | ".join(out) + " |")
        return "\n".join(lines)

    def write_json(self, config: dict[str, Any], machine: dict[str, Any]) -> Path:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = RESULTS_DIR / f"bench-{stamp}.json"
        document = {
            "config": config,
            "machine": machine,
            "summary": self.summary(),
            "measurements": [asdict(m) for m in self.measurements],
            "notes": self.notes,
        }
        path.write_text(json.dumps(document, indent=2, default=str) + "\n")
        return path
