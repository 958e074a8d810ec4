"""The results: a table on stdout, and a JSON file with the same rows plus the machine's facts."""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from bench.section import Row


def machine_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}"


def format_table(results: list[tuple[str, Row]]) -> str:
    lines = [("section", "metric", "value", "unit")]
    lines += [(section, row.metric, _number(row.value), row.unit) for section, row in results]
    widths = [max(len(line[column]) for line in lines) for column in range(4)]
    rendered = []
    for section, metric, value, unit in lines:
        rendered.append(
            f"{section:<{widths[0]}}  {metric:<{widths[1]}}  {value:>{widths[2]}}  {unit}".rstrip()
        )
    rendered.insert(1, "-" * len(max(rendered, key=len)))
    return "\n".join(rendered)


def write_json(path: Path, results: list[tuple[str, Row]], options: dict[str, Any]) -> None:
    document = {
        "machine": machine_info(),
        "options": options,
        "rows": [
            {"section": section, "metric": row.metric, "value": row.value, "unit": row.unit}
            for section, row in results
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
