"""`python -m bench --quick --tiny` runs every section to the end and reports its rows.

Only that it works: the numbers of a tiny run on a shared machine mean nothing, so no
assertion here is about speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import SECTIONS

REPO = Path(__file__).resolve().parents[2]

#: Rows each section named must report, whatever else it adds.
REQUIRED = {
    "core": {"web mix, enrichment on, median", "web mix, enrichment off, median"},
    "e2e": {"worker events/s", "baseline events/s", "worker/baseline", "worker output messages"},
    "latency": {"produce -> consumed, p50", "produce -> consumed, p99"},
    "memory": {"worker RSS at load start", "worker RSS at end", "worker RSS slope, whole run"},
    "limit": {"aiokafka relay events/s", "librdkafka relay events/s", "worker/limit"},
    "peer": {"peer events/s", "peer CPU per million events", "worker/peer"},
    "ingress": {
        f"{label}: {metric}"
        for label in ("worker", "ingress-only worker")
        for metric in ("requests/s", "latency p99", "requests answered 202")
    },
    "windows": {
        "former close: the scan of every key, all partitions",
        "close of all partitions, index held",
    },
    "fetch_wait": {"long waits at 500 events/s, p99", "short waits at 500 events/s, p99"},
    "modes": {
        "at least once events/s (best of 1)",
        "at least once + dedup window / at least once",
        "exactly once + dedup window / at least once",
    },
}


@pytest.mark.slow
def test_quick_tiny_bench_reports_every_section(tmp_path: Path) -> None:
    results = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--tiny", "--json", str(results)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]

    document = json.loads(results.read_text())
    assert document["options"]["tiny"] is True
    rows: dict[str, dict[str, dict[str, object]]] = {}
    for row in document["rows"]:
        rows.setdefault(row["section"], {})[row["metric"]] = row
    assert set(rows) == set(SECTIONS)
    for section, metrics in REQUIRED.items():
        assert metrics <= set(rows[section]), f"{section} lacks {metrics - set(rows[section])}"
    for section in rows.values():
        for row in section.values():
            assert isinstance(row["value"], int | float) and row["unit"]

    e2e = rows["e2e"]
    # The worker got through all of its input, and the baseline through some of it.
    assert e2e["worker output messages"]["value"] == e2e["input events"]["value"]
    assert e2e["baseline output messages"]["value"] > 0
    # Each relay and the peer got through all of the input.
    for relay in ("aiokafka", "librdkafka"):
        assert rows["limit"][f"{relay} relay events"]["value"] == e2e["input events"]["value"]
    assert (
        rows["peer"]["peer (Quix Streams) output messages"]["value"] == e2e["input events"]["value"]
    )
    assert rows["ingress"]["worker: requests answered 202"]["value"] > 0
    assert rows["ingress"]["ingress-only worker: requests answered 202"]["value"] > 0
    assert rows["latency"]["records timed"]["value"] > 0
    assert rows["memory"]["worker RSS at end"]["value"] > 0
    windows = rows["windows"]
    assert (
        windows["keys left (one window forgotten)"]["value"]
        < windows["metric table keys held"]["value"]
    )
    # The table on stdout has the same rows.
    assert "worker/baseline" in run.stdout and "produce -> consumed, p99" in run.stdout
    assert "worker/limit" in run.stdout and "worker/peer" in run.stdout
