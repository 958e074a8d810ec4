"""HTTP ingress: requests/s and latency of 50-event gzip bodies posted to one real worker.

wrk (installed by ``make bench``), on loopback, keeps ``CONNECTIONS`` connections busy for a
bounded time with ``POST /v1/log_event``: the bench's sample requests, gzip-compressed, in
turn, with a development key (``bench/ingress.lua``). The worker answers 202 once the broker
acknowledged the raw message, and goes on consuming and processing it meanwhile, as in a
deployment. Every answer must be a 202, and the raw topic must then hold every accepted request
(a few more: those in flight when wrk stopped). CPU per request of the worker's process
and of the broker's over wrk's run (``bench.cpu``). Then the same against a worker that
only serves the Events API (``WORKER_ROLE=ingress``).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from agents.web.auth import DEVELOPMENT_KEYS
from bench import e2e
from bench.broker import RecordCounter, broker_pid
from bench.cpu import CpuSampler
from bench.load import worker_on_own_broker
from bench.section import Row, RunOptions
from bench.traffic import recent_bodies
from bench.workload import EVENTS_PER_REQUEST

SCRIPT = Path(__file__).with_name("ingress.lua")
CONNECTIONS = 32
THREADS = 2


def seconds(options: RunOptions) -> int:
    return 2 if options.tiny else 8 if options.quick else 15


def wrk(url: str, bodies: Path, count: int, duration: int) -> dict[str, int]:
    """wrk's run, as its script's closing JSON line."""
    if shutil.which("wrk") is None:
        raise RuntimeError(
            "wrk is missing: `make bench` installs it when root (apt-get install wrk)"
        )
    args = [
        "wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "--timeout", "10s",
        "-s", str(SCRIPT), url, "--", str(bodies), str(count),
        DEVELOPMENT_KEYS["dev-secret"], str(int(time.time() * 1000)),
    ]  # fmt: skip
    run = subprocess.run(args, capture_output=True, text=True, timeout=duration + 60, check=True)
    result: dict[str, int] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


async def _raw_count(bootstrap: str, topic: str) -> int:
    async with RecordCounter(bootstrap) as reader:
        return (await reader.counts([topic]))[topic]


ROLES = {"all": "worker", "ingress": "ingress-only worker"}
"""WORKER_ROLE -> the label of its rows: one worker that also processes what it takes, and one
that only serves the Events API (WORKER_ROLE=ingress), as when ingress scales apart."""


def _posted(options: RunOptions, folder: Path, count: int, role: str) -> list[Row]:
    duration = seconds(options)
    with worker_on_own_broker("ingress", options.broker, WORKER_ROLE=role) as loaded:
        pids = {"app": loaded.worker.pid, "broker": broker_pid(loaded.broker)}
        with CpuSampler(pids) as cpu:
            start = time.time()
            result = wrk(loaded.worker.web_url, folder, count, duration)
            end = time.time()
        on_raw = asyncio.run(_raw_count(loaded.bootstrap, loaded.raw_topic))
    accepted = result["requests"] - result["not_accepted"]
    e2e.progress(f"ingress ({role}): {result['requests']} requests, {on_raw} on the raw topic")
    if result["not_accepted"] or result["socket_errors"]:
        raise RuntimeError(f"not every request was accepted: {result}")
    if not accepted <= on_raw <= accepted + CONNECTIONS:
        raise RuntimeError(f"{accepted} requests accepted, {on_raw} on the raw topic")
    used = cpu.between(start, end)
    ms_each = 1000 / max(accepted, 1)
    per_second = accepted / (result["micros"] / 1e6)
    label = ROLES[role]
    return [
        Row(f"{label}: requests answered 202", accepted, "requests"),
        Row(f"{label}: requests on the raw topic", on_raw, "requests"),
        Row(f"{label}: requests/s", per_second, "requests/s"),
        Row(f"{label}: events/s accepted", EVENTS_PER_REQUEST * per_second, "events/s"),
        Row(f"{label}: latency p50", result["p50_us"] / 1000, "ms"),
        Row(f"{label}: latency p99", result["p99_us"] / 1000, "ms"),
        Row(f"{label}: latency max", result["max_us"] / 1000, "ms"),
        Row(f"{label}: worker CPU per request", used["app"] * ms_each, "ms"),
        Row(f"{label}: broker CPU per request", used["broker"] * ms_each, "ms"),
    ]


def measure(options: RunOptions) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-ingress-") as tmp:
        folder = Path(tmp)
        plain = recent_bodies()
        for index, body in enumerate(plain, start=1):
            (folder / f"{index}.gz").write_bytes(gzip.compress(body))
        return [row for role in ROLES for row in _posted(options, folder, len(plain), role)]
